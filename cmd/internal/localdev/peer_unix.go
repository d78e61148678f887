//go:build unix

package localdev

import (
	"errors"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// peerClosed reports whether the client has closed its end of c, before
// the server has read that far: a one-byte read that neither waits nor
// takes the byte finds the end of the stream (or a reset). A client that
// closes one connection and opens the next (a CLI run per command) has
// closed the first before its next request can arrive, so this does not
// depend on which of the server's goroutines runs first. It reports false
// for a connection it cannot look into. After a reset the peek takes the
// socket's pending error, so the server's own read then ends with EOF
// instead of ECONNRESET; net/http ends the connection either way.
func peerClosed(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	// Control, not Read: Read would wait for the lock held by the
	// server's own read of the next request on c.
	if err := rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		closed = (n == 0 && err == nil) || errors.Is(err, unix.ECONNRESET)
	}); err != nil {
		return true // the server has closed it itself
	}
	return closed
}
