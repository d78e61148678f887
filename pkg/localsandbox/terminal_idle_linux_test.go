package localsandbox_test

import (
	"context"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/nimbus-sh/nimbus/internal/deadpeer"
	"github.com/nimbus-sh/nimbus/internal/proctest"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/terminal/frame"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// liveClient is a client that reads all the time (its WebSocket stack
// answers pings unless noPong), and sends a bare "ping" every pingEvery
// when that is not 0.
type liveClient struct {
	ws    *websocket.Conn
	pings atomic.Int32 // WebSocket pings received
	out   chan string  // output frames' data
	ended chan error
}

func dialLive(t *testing.T, base, id string, noPong bool, pingEvery time.Duration) *liveClient {
	t.Helper()
	c := &liveClient{out: make(chan string, 1024), ended: make(chan error, 1)}
	opts := &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + mint(t, id, token.ScopeSessionAttach)}},
		OnPingReceived: func(context.Context, []byte) bool {
			c.pings.Add(1)
			return !noPong
		},
	}
	ws, resp, err := websocket.Dial(ctx(t), wsURL(base, id), opts)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, status(resp))
	}
	c.ws = ws
	stop, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); _ = ws.CloseNow() })
	go func() {
		for {
			_, msg, err := ws.Read(context.Background())
			if err != nil {
				c.ended <- err
				return
			}
			if f, err := frame.Decode(msg); err == nil && (f.Type == frame.TypeOutput || f.Type == frame.TypeReady) {
				select {
				case c.out <- f.Type + ":" + f.Data:
				default:
				}
			}
		}
	}()
	if pingEvery > 0 {
		go func() {
			tick := time.NewTicker(pingEvery)
			defer tick.Stop()
			for {
				select {
				case <-stop.Done():
					return
				case <-tick.C:
					_ = ws.Write(stop, websocket.MessageText, []byte(frame.Ping))
				}
			}
		}()
	}
	return c
}

// until waits for output containing want; it fails if the socket ends.
func (c *liveClient) until(t *testing.T, want string) {
	t.Helper()
	var seen strings.Builder
	deadline := time.After(20 * time.Second)
	for !strings.Contains(seen.String(), want) {
		select {
		case s := <-c.out:
			seen.WriteString(s)
		case err := <-c.ended:
			t.Fatalf("the socket ended while waiting for %q: %v", want, err)
		case <-deadline:
			t.Fatalf("no %q in %q", want, seen.String())
		}
	}
}

// TestSilentTerminalClientIsClosed: a terminal socket whose peer went
// silent (asleep, cut off without a FIN) used to stay open for ever,
// holding its descriptor, goroutines and a slot of nimbus dev's
// connection limit. After the idle timeout without a word the server
// pings it, and closes it with 1008 "client silent" when no pong comes;
// what it held is released. A client that sends the keepalive "ping" is
// not closed, nor is one that sends nothing but answers the server's
// pings (the upstream page while it shows output: it probes only when
// output stops).
func TestSilentTerminalClientIsClosed(t *testing.T) {
	const idle = time.Second
	_, hs := newServer(t, func(o *localsandbox.Options) { o.TerminalIdleTimeout = idle })
	// The terminal of job-idle exists before the counts are taken: it
	// outlives its sockets.
	first := mustDialTerm(t, hs.URL, "job-idle")
	first.quiet()
	first.send(frame.Input("echo up-$((1+1))\r"))
	first.until("up-2")
	if err := first.ws.Close(websocket.StatusNormalClosure, "detach"); err != nil {
		t.Fatal(err)
	}
	// One client that only sends "ping" (and never answers a WebSocket
	// ping), one that only reads.
	pinger := dialLive(t, hs.URL, "job-ping", true, idle/4)
	reader := dialLive(t, hs.URL, "job-read", false, 0)
	pinger.until(t, "ready:")
	reader.until(t, "ready:")
	goroutines, fds := runtime.NumGoroutine(), openFDs(t)

	silent := deadpeer.Dial(t, hs.Listener.Addr().String(), "/s/job-idle/ws", mint(t, "job-idle", token.ScopeSessionAttach))
	start := time.Now()
	code, reason, err := silent.CloseFrame()
	if err != nil {
		t.Fatalf("the socket of a silent client was not closed with a close frame (%d pings seen): %v", silent.Pings, err)
	}
	if code != int(websocket.StatusPolicyViolation) || reason != "client silent" {
		t.Fatalf("silent client closed with %d %q, want 1008 \"client silent\"", code, reason)
	}
	if d := time.Since(start); d < idle {
		t.Fatalf("closed after %v of silence, before the idle timeout %v", d, idle)
	}
	if silent.Pings == 0 {
		t.Fatal("closed without being pinged first")
	}
	_ = silent.Close()
	proctest.WaitFor(t, "the silent socket's goroutines and descriptors to be released", func() bool {
		return runtime.NumGoroutine() <= goroutines && openFDs(t) <= fds
	})

	// The reader has answered two pings: it outlived the first check.
	proctest.WaitFor(t, "the reader to be pinged twice", func() bool { return reader.pings.Load() >= 2 })
	for _, c := range []*liveClient{pinger, reader} {
		if err := c.ws.Write(ctx(t), websocket.MessageText, frame.Input("echo still-$((40+2))\r")); err != nil {
			t.Fatal(err)
		}
		c.until(t, "still-42")
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
