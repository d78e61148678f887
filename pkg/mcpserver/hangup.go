package mcpserver

import (
	"io"
	"syscall"
	"time"

	"github.com/nimbus-sh/nimbus/internal/pipehup"
)

// hangupPoll is how often a waiting server looks whether its client
// still reads its output.
const hangupPoll = 200 * time.Millisecond

// watchHangup returns a channel closed once out, a pipe or a socket,
// says its reader has gone (POLLERR or POLLHUP: the client was killed),
// looked at until stop is closed. It returns nil when out cannot say (a
// file, a buffer, or a system where pipehup cannot tell): a client that
// only ended its input reads on, and one that is gone shows when a reply
// fails to be written.
func watchHangup(out io.Writer, stop <-chan struct{}) <-chan struct{} {
	sc, ok := out.(syscall.Conn)
	if !ok || !pipehup.Detects {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	ch := make(chan struct{})
	go func() {
		t := time.NewTicker(hangupPoll)
		defer t.Stop()
		for !pipehup.ReaderGone(rc) {
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
