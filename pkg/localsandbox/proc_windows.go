//go:build windows

package localsandbox

import "syscall"

// New refuses to run on Windows; this only keeps the package building for
// the release matrix.
var signals = [...]struct {
	name string
	sig  syscall.Signal
}{
	{"SIGTERM", syscall.SIGTERM},
	{"SIGINT", syscall.SIGINT},
	{"SIGKILL", syscall.SIGKILL},
}
