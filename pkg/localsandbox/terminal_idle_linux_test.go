package localsandbox_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/nimbus-sh/nimbus/internal/proctest"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/terminal/frame"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// silentClient opens the terminal socket of id over a raw TCP connection
// and then sends nothing, not even a pong: a peer that went to sleep or
// was cut off without a FIN, as the server sees it.
type silentClient struct {
	conn  net.Conn
	br    *bufio.Reader
	pings int
}

func dialSilent(t *testing.T, addr, id string) *silentClient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	head := "GET /s/" + id + "/ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Authorization: Bearer " + mint(t, id, token.ScopeSessionAttach) + "\r\n\r\n"
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	// A bound on the whole test, not a synchronisation: the server's
	// close is what the reads below wait for.
	_ = conn.SetReadDeadline(time.Now().Add(40 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %s", resp.Status)
	}
	return &silentClient{conn: conn, br: br}
}

// closeFrame reads the server's frames (answering none) until its close
// frame, and returns its code and reason.
func (c *silentClient) closeFrame(t *testing.T) (int, string) {
	t.Helper()
	for {
		var h [2]byte
		if _, err := io.ReadFull(c.br, h[:]); err != nil {
			t.Fatalf("the socket of a silent client was not closed with a close frame (%d pings seen): %v", c.pings, err)
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(c.br, b[:]); err != nil {
				t.Fatal(err)
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(c.br, b[:]); err != nil {
				t.Fatal(err)
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(c.br, payload); err != nil {
			t.Fatal(err)
		}
		switch h[0] & 0x0f {
		case 0x9:
			c.pings++
		case 0x8:
			if len(payload) < 2 {
				t.Fatalf("close frame without a code: %q", payload)
			}
			return int(binary.BigEndian.Uint16(payload)), string(payload[2:])
		}
	}
}

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

	silent := dialSilent(t, hs.Listener.Addr().String(), "job-idle")
	start := time.Now()
	code, reason := silent.closeFrame(t)
	if code != int(websocket.StatusPolicyViolation) || reason != "client silent" {
		t.Fatalf("silent client closed with %d %q, want 1008 \"client silent\"", code, reason)
	}
	if d := time.Since(start); d < idle {
		t.Fatalf("closed after %v of silence, before the idle timeout %v", d, idle)
	}
	if silent.pings == 0 {
		t.Fatal("closed without being pinged first")
	}
	_ = silent.conn.Close()
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
