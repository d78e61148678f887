//go:build unix

package sandboxinit

import (
	"io"
	"os"
	"strings"
	"syscall"
)

// pipeBufMin is the least a pipe holds (a page, even under a lowered
// pipe-user-pages limit); a write of at most PIPE_BUF (as much) bytes to
// an empty pipe is whole or nothing.
const pipeBufMin = 4096

// writeAhead writes a short in-memory input (the *strings.Reader the
// sandbox passes) into the new, empty pipe w at once, and reports whether
// it did; otherwise r is as it was, for the copying goroutine.
func writeAhead(w *os.File, r io.Reader) bool {
	sr, ok := r.(*strings.Reader)
	if !ok || sr.Len() > pipeBufMin {
		return false
	}
	rc, err := w.SyscallConn()
	if err != nil {
		return false
	}
	b := make([]byte, sr.Len())
	n, _ := sr.Read(b)
	written := 0
	_ = rc.Write(func(fd uintptr) bool {
		for {
			m, err := syscall.Write(int(fd), b[:n])
			if err == syscall.EINTR {
				continue
			}
			if err == nil {
				written = m
			}
			// Done either way: what did not go is left to the goroutine.
			return true
		}
	})
	if written < n {
		_, _ = sr.Seek(int64(written-n), io.SeekCurrent)
		return false
	}
	return true
}
