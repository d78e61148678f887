package cftest

import (
	"bufio"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestResetWaitsForRequestsAlreadySent: a request whose bytes the client
// sent before a step resets the log (a CLI run that exited on the first
// of several concurrent failures) is recorded before the reset, not
// counted after it. runtime/sync_failures.txtar counted two PUTs of the
// step before its reset as its own, under load.
func TestResetWaitsForRequestsAlreadySent(t *testing.T) {
	s := New()
	defer s.Close()
	c, err := net.Dial("tcp", s.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// All of a PUT but the last byte of its body.
	if _, err := c.Write([]byte("PUT " + BasePath + "/accounts/x/r2/buckets/b/objects/k HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\na")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); s.conns.Busy() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the fake never saw the connection")
		}
	}
	reset := make(chan struct{})
	go func() {
		s.ResetRequests()
		close(reset)
	}()
	select {
	case <-reset:
		t.Fatal("the reset did not wait for the request in progress")
	case <-time.After(50 * time.Millisecond):
	}
	if _, err := c.Write([]byte("b")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	<-reset
	if got := s.Requests(); len(got) != 0 {
		t.Errorf("after the reset: %d requests recorded (%s %s), want none", len(got), got[0].Method, got[0].Path)
	}
}
