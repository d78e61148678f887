//go:build unix

package localsandbox

import "syscall"

// signals are the signals signalProcess takes by name. A table, not a map:
// a package-level map is built at start-up by every nimbus command.
var signals = [...]struct {
	name string
	sig  syscall.Signal
}{
	{"SIGTERM", syscall.SIGTERM},
	{"SIGINT", syscall.SIGINT},
	{"SIGKILL", syscall.SIGKILL},
	{"SIGHUP", syscall.SIGHUP},
	{"SIGQUIT", syscall.SIGQUIT},
	{"SIGUSR1", syscall.SIGUSR1},
	{"SIGUSR2", syscall.SIGUSR2},
	{"SIGSTOP", syscall.SIGSTOP},
	{"SIGCONT", syscall.SIGCONT},
	{"SIGWINCH", syscall.SIGWINCH},
}
