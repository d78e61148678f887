//go:build unix

package mcpserver

import (
	"io"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// hangupPoll is how often a waiting server looks whether its client
// still reads its output.
const hangupPoll = 200 * time.Millisecond

// watchHangup returns a channel closed once out, a pipe or a socket,
// says its reader has gone (POLLERR or POLLHUP: the client was killed),
// looked at until stop is closed. It returns nil when out cannot say (a
// file, a buffer): a client that only ended its input reads on, and one
// that is gone shows when a reply fails to be written.
func watchHangup(out io.Writer, stop <-chan struct{}) <-chan struct{} {
	sc, ok := out.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	gone := func() bool {
		var hup bool
		_ = rc.Control(func(fd uintptr) {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
			if n, err := unix.Poll(fds, 0); err == nil && n > 0 {
				hup = fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0
			}
		})
		return hup
	}
	ch := make(chan struct{})
	go func() {
		t := time.NewTicker(hangupPoll)
		defer t.Stop()
		for !gone() {
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
		close(ch)
	}()
	return ch
}
