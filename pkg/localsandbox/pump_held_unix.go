//go:build unix

package localsandbox

import (
	"os"
	"syscall"
)

// readHeld reads what pipe f holds now, without waiting (f is a pipe
// from os.Pipe, non-blocking under the runtime's poller): its read
// deadline has passed, and a Read would not look. It reports false at
// end of file, on an error, or when the pipe is empty.
func readHeld(f *os.File, buf []byte) (int, bool) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, false
	}
	var n int
	var rerr error
	if err := rc.Control(func(fd uintptr) {
		for {
			n, rerr = syscall.Read(int(fd), buf)
			if rerr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return 0, false
	}
	return n, rerr == nil && n > 0
}
