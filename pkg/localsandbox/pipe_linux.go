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
