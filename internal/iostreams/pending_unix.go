//go:build unix

package iostreams

import (
	"os"

	"golang.org/x/sys/unix"
)

// pending reports whether f, a pipe or socket, has data to read right now.
// It polls without waiting and, when f is readable, reads one byte: the
// caller does not use the input, and a readable f returns at once (data,
// or end of file when the writer closed without writing).
func pending(f *os.File) bool {
	fds := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	if err != nil || n == 0 || fds[0].Revents&unix.POLLIN == 0 {
		return false
	}
	var b [1]byte
	k, _ := f.Read(b[:])
	return k > 0
}
