package localsandbox

import (
	"os"
	"syscall"
)

// growPipe enlarges a pipe's kernel buffer (F_SETPIPE_SZ) so a fast writer
// blocks less often; failure (a lowered system limit) is harmless.
func growPipe(f *os.File) {
	const fSetPipeSz = 1031
	if rc, err := f.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, fd, fSetPipeSz, 1<<20)
		})
	}
}

// outputPipe returns a pipe for a command's output, blocking and left out
// of the runtime's poller: the pump polls it itself (pump_linux.go), so
// registering it would only cost system calls.
func outputPipe() (r, w *os.File, err error) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return nil, nil, os.NewSyscallError("pipe2", err)
	}
	return os.NewFile(uintptr(p[0]), "|0"), os.NewFile(uintptr(p[1]), "|1"), nil
}
