//go:build unix

package pipehup

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// Detects is whether ReaderGone can tell on this system.
const Detects = true

// ReaderGone reports whether nothing can read what is written to rc any
// more: the kernel flags such a write end with POLLERR (POLLHUP on some
// systems and for sockets). A pipe that merely is full is not gone. It
// reports false when rc cannot be looked at.
func ReaderGone(rc syscall.RawConn) bool {
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
