//go:build unix

package sandboxinit

import "syscall"

// signalGroup signals the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) error { return syscall.Kill(-pid, sig) }

// ttyProcAttr starts an interactive shell on the terminal that is its
// standard input: leader of a new session, with that terminal as its
// controlling terminal, so that job control and Ctrl-C work.
func ttyProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
}
