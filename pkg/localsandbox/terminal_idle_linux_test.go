package localsandbox_test

import (
	"context"
	"fmt"
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

// liveClient is a WebSocket client that reads all the time (its stack
// answers the server's pings unless noPong) and, when every is not 0,
// sends keep that often: a live peer of a terminal or a preview.
type liveClient struct {
	ws       *websocket.Conn
	pings    atomic.Int32 // WebSocket pings received
	received atomic.Int32 // messages received
	msgs     chan string  // the messages, while the test keeps up
	ended    chan error
}

func dialLive(t *testing.T, url, tok string, noPong bool, every time.Duration, keep string) *liveClient {
	t.Helper()
	c := &liveClient{msgs: make(chan string, 1024), ended: make(chan error, 1)}
	opts := &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}},
		OnPingReceived: func(context.Context, []byte) bool {
			c.pings.Add(1)
			return !noPong
		},
	}
	ws, resp, err := websocket.Dial(ctx(t), url, opts)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, status(resp))
	}
	c.ws = ws
	ws.SetReadLimit(1 << 20)
	stop, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); _ = ws.CloseNow() })
	go func() {
		for {
			_, msg, err := ws.Read(context.Background())
			if err != nil {
				c.ended <- err
				return
			}
			c.received.Add(1)
			select {
			case c.msgs <- string(msg):
			default:
			}
		}
	}()
	if every > 0 {
		go func() {
			tick := time.NewTicker(every)
			defer tick.Stop()
			for {
				select {
				case <-stop.Done():
					return
				case <-tick.C:
					_ = ws.Write(stop, websocket.MessageText, []byte(keep))
				}
			}
		}()
	}
	return c
}

// until reads messages until got is true of one; it fails, saying what
// it waited for, if the socket ends or none comes within 20 s.
func (c *liveClient) until(t *testing.T, got func(msg string) bool, what func() string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case msg := <-c.msgs:
			if got(msg) {
				return
			}
		case err := <-c.ended:
			t.Fatalf("the socket ended while waiting for %s: %v", what(), err)
		case <-deadline:
			t.Fatalf("no %s", what())
		}
	}
}

// dialTerminal is a live client of the terminal of id that sends the
// keepalive "ping" every pingEvery when that is not 0.
func dialTerminal(t *testing.T, base, id string, noPong bool, pingEvery time.Duration) *liveClient {
	t.Helper()
	return dialLive(t, wsURL(base, id), mint(t, id, token.ScopeSessionAttach), noPong, pingEvery, frame.Ping)
}

// untilOutput waits for the terminal's output (and ready frames, as
// "ready:") to contain want.
func (c *liveClient) untilOutput(t *testing.T, want string) {
	t.Helper()
	var seen strings.Builder
	c.until(t, func(msg string) bool {
		if f, err := frame.Decode([]byte(msg)); err == nil && (f.Type == frame.TypeOutput || f.Type == frame.TypeReady) {
			seen.WriteString(f.Type + ":" + f.Data)
		}
		return strings.Contains(seen.String(), want)
	}, func() string { return fmt.Sprintf("%q in %q", want, seen.String()) })
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
	pinger := dialTerminal(t, hs.URL, "job-ping", true, idle/4)
	reader := dialTerminal(t, hs.URL, "job-read", false, 0)
	pinger.untilOutput(t, "ready:")
	reader.untilOutput(t, "ready:")
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
		c.untilOutput(t, "still-42")
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
