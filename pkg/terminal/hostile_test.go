//go:build unix

package terminal_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/nimbus-sh/nimbus/pkg/terminal"
)

// A server that sends a message beyond ReadLimit breaks the protocol:
// Attach fails with CodeProtocol and does not reconnect (a reconnection
// would only be sent the same replay again), instead of reporting a lost
// connection and redialling for the whole Reconnect window.
func TestHostileOversizedMessage(t *testing.T) {
	var accepted atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		accepted.Add(1)
		// Streamed in pieces: neither side holds it whole but the
		// client's read buffer.
		wr, err := ws.Writer(r.Context(), websocket.MessageText)
		if err != nil {
			return
		}
		piece := bytes.Repeat([]byte("x"), 1<<20)
		for sent := 0; sent <= terminal.ReadLimit; sent += len(piece) {
			if _, err := wr.Write(piece); err != nil {
				return
			}
		}
		wr.Close()
		ws.Read(r.Context()) // until the client closes
	}))
	t.Cleanup(srv.Close)
	o := termOpts(srv.URL, "job-1")
	o.Reconnect = 2 * time.Second
	s := start(t, o)
	_, err := s.wait()
	if codeOf(err) != terminal.CodeProtocol {
		t.Fatalf("err = %v (code %q), want %s", err, codeOf(err), terminal.CodeProtocol)
	}
	if n := accepted.Load(); n != 1 {
		t.Fatalf("%d connections, want 1 (no reconnection)", n)
	}
	if s.saw(terminal.EventDisconnected) {
		t.Fatal("a protocol violation was reported as a lost connection")
	}
}
