//go:build unix

package sandboxinit

import "syscall"

// signalGroup signals the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) error { return syscall.Kill(-pid, sig) }

// fileID identifies a file (device and inode).
type fileID struct{ dev, ino uint64 }

// idOf identifies the file at path without following a final symlink; the
// zero fileID when there is none.
func idOf(path string) fileID {
	var st syscall.Stat_t
	if syscall.Lstat(path, &st) != nil {
		return fileID{}
	}
	return fileID{uint64(st.Dev), uint64(st.Ino)} //nolint:unconvert // Dev is int32 on some systems
}

// sendWithFiles sends p with the descriptors fds attached (SCM_RIGHTS).
func sendWithFiles(sock int, p []byte, fds []int) (int, error) {
	return syscall.SendmsgN(sock, p, syscall.UnixRights(fds...), nil, 0)
}

// isNonblock reports whether fd is in non-blocking mode.
func isNonblock(fd int) bool {
	flags, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFL, 0)
	return e != 0 || flags&syscall.O_NONBLOCK != 0
}

// ttyProcAttr starts an interactive shell on the terminal that is its
// standard input: leader of a new session, with that terminal as its
// controlling terminal, so that job control and Ctrl-C work.
func ttyProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
}
