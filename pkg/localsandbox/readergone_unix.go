//go:build unix

package localsandbox

import (
	"os"

	"golang.org/x/sys/unix"
)

// readerGone reports whether nothing can read the pipe whose write end is
// w any more: the process closed its input, or exited (and none of its
// children holds the input), though the wait for it may not have ended
// yet. The kernel flags such a write end with POLLERR (POLLHUP on some
// systems); a pipe that merely is full is not gone.
func readerGone(w *os.File) bool {
	rc, err := w.SyscallConn()
	if err != nil {
		return false
	}
	gone := false
	_ = rc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		for {
			n, err := unix.Poll(fds, 0)
			if err == unix.EINTR {
				continue
			}
			gone = err == nil && n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0
			return
		}
	})
	return gone
}
