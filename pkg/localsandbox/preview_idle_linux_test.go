package localsandbox_test

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/nimbus-sh/nimbus/internal/deadpeer"
	"github.com/nimbus-sh/nimbus/internal/proctest"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// echoApp serves a WebSocket echo on a loopback port exposed by sandbox
// id and returns the port; ended gets a value each time one of the
// app's sockets ends. At /push the app also sends messages of every
// length encoding (7-bit, 16-bit, 64-bit) every 10 ms without being
// asked.
func echoApp(t *testing.T, base, id string) (port string, ended <-chan struct{}) {
	t.Helper()
	end := make(chan struct{}, 16)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/raw" {
			// Another protocol: the app switches and waits for bytes.
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer func() { end <- struct{}{} }()
			defer conn.Close()
			_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: raw\r\nConnection: Upgrade\r\n\r\n")
			if brw.Flush() == nil {
				_, _ = io.Copy(io.Discard, conn)
			}
			return
		}
		if r.URL.Path == "/halves" {
			halves(w, r, end, 300, 20*time.Millisecond)
			return
		}
		if r.URL.Path == "/trickle" {
			halves(w, r, end, 16, 3*time.Millisecond)
			return
		}
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		defer func() { end <- struct{}{} }()
		defer c.CloseNow()
		if r.URL.Path == "/push" {
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				tick := time.NewTicker(10 * time.Millisecond)
				defer tick.Stop()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					msg := make([]byte, []int{10, 300, 70000}[i%3])
					if c.Write(context.Background(), websocket.MessageBinary, msg) != nil {
						return
					}
				}
			}()
		}
		for {
			typ, msg, err := c.Read(context.Background())
			if err != nil {
				return
			}
			if err := c.Write(context.Background(), typ, msg); err != nil {
				return
			}
		}
	}))
	t.Cleanup(app.Close)
	u, _ := url.Parse(app.URL)
	full := mint(t, "", token.ScopeSandboxUse, token.ScopeSessionAttach)
	n, _ := strconv.Atoi(u.Port())
	if e := call(t, base, full, id, "exposePort", n); !e.OK {
		t.Fatal(e.Error)
	}
	return u.Port(), end
}

// halves is a WebSocket app that sends binary frames of size bytes in
// halves: a frame's header and half its payload, then, every later, the
// rest with the next frame's header and first half, and so on, forever.
// Its stream never pauses between two frames: every write of it stops
// inside one, where no ping of the server's may go. It reads nothing.
func halves(w http.ResponseWriter, r *http.Request, end chan<- struct{}, size int, every time.Duration) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer func() { end <- struct{}{} }()
	defer conn.Close()
	sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n")
	if brw.Flush() != nil {
		return
	}
	head := []byte{0x82, byte(size)}
	if size > 125 {
		head = []byte{0x82, 126, byte(size >> 8), byte(size)}
	}
	payload := make([]byte, size/2)
	tick := time.NewTicker(every)
	defer tick.Stop()
	if _, err := conn.Write(append(append([]byte(nil), head...), payload...)); err != nil {
		return
	}
	for range tick.C {
		if _, err := conn.Write(append(append(append([]byte(nil), payload...), head...), payload...)); err != nil {
			return
		}
	}
}

// dialPreview is a live client of the preview of id at path that sends
// "tick" every every when that is not 0.
func dialPreview(t *testing.T, base, id, path string, noPong bool, every time.Duration) *liveClient {
	t.Helper()
	return dialLive(t, "ws"+base[len("http"):]+"/s/"+id+"/port/"+path, mint(t, id, token.ScopeSessionAttach), noPong, every, "tick")
}

// roundTrip sends msg and waits for its echo; it fails if the socket ends.
func (c *liveClient) roundTrip(t *testing.T, msg string) {
	t.Helper()
	if err := c.ws.Write(ctx(t), websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	c.until(t, func(got string) bool { return got == msg }, func() string { return fmt.Sprintf("the echo of %q", msg) })
}

// TestDeadPreviewPeerIsReleased: a preview WebSocket (the app's own
// protocol, proxied) whose client vanished without a FIN used to hold
// the hijacked connection, the proxy's goroutines, its descriptors and
// the app's socket for as long as the app stayed quiet. Once the client
// has sent nothing for the idle timeout the server pings it between the
// app's frames, and closes both sides when no answer comes within the
// grace. A live client that sends nothing but answers pings is kept,
// and so is one that never answers a ping but talks to its app.
func TestDeadPreviewPeerIsReleased(t *testing.T) {
	const idle = time.Second
	grace := time.Second // an eighth of idle, at least 1 s
	_, hs := newServer(t, func(o *localsandbox.Options) { o.PreviewIdleTimeout = idle })
	port, appEnded := echoApp(t, hs.URL, "pv")

	quiet := dialPreview(t, hs.URL, "pv", port+"/", false, 0)
	chatty := dialPreview(t, hs.URL, "pv", port+"/", true, idle/4)
	// A client that sends nothing while its app streams to it: the
	// server's pings go between the app's frames (a ping inside one
	// would break the stream, and the client would fail it).
	pushed := dialPreview(t, hs.URL, "pv", port+"/push", false, 0)
	halved := dialPreview(t, hs.URL, "pv", port+"/halves", false, 0)
	quiet.roundTrip(t, "hello quiet")
	chatty.roundTrip(t, "hello chatty")
	// Once a message came through, the proxy's goroutines of a socket
	// are all there.
	for _, c := range []*liveClient{pushed, halved} {
		proctest.WaitFor(t, "a streaming app's first message", func() bool { return c.received.Load() > 0 })
	}
	goroutines, fds := runtime.NumGoroutine(), openFDs(t)

	// A dead peer of a quiet app, then one of an app that streams.
	for _, path := range []string{port + "/", port + "/push"} {
		dead := deadpeer.Dial(t, hs.Listener.Addr().String(), "/s/pv/port/"+path, mint(t, "pv", token.ScopeSessionAttach))
		start := time.Now()
		err := dead.UntilClosed()
		took, pings := time.Since(start), dead.Pings
		if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: the preview socket of a dead peer was still open after %v (%d pings)", path, took, pings)
		}
		if took < idle {
			t.Fatalf("%s: closed after %v of silence, before the idle timeout %v", path, took, idle)
		}
		if bound := idle + grace + 2*time.Second; took > bound {
			t.Fatalf("%s: closed after %v, beyond the bound %v", path, took, bound)
		}
		if pings == 0 {
			t.Fatalf("%s: closed without being pinged first", path)
		}
		_ = dead.Close()
		select {
		case <-appEnded:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: the app's side of the dead peer's socket stayed open", path)
		}
		proctest.WaitFor(t, "the dead peer's goroutines and descriptors to be released", func() bool {
			return runtime.NumGoroutine() <= goroutines && openFDs(t) <= fds
		})
	}

	// The quiet clients have answered three pings: they outlived the
	// bound three times over, and so has the chatty one.
	for _, c := range []*liveClient{quiet, pushed, halved} {
		proctest.WaitFor(t, "a quiet client to be pinged three times", func() bool {
			select {
			case err := <-c.ended:
				t.Fatalf("a quiet client's socket ended: %v", err)
			default:
			}
			return c.pings.Load() >= 3
		})
	}
	quiet.roundTrip(t, "still here")
	chatty.roundTrip(t, "still talking")
	pushed.roundTrip(t, "still streamed to")
	if n := chatty.pings.Load(); n != 0 {
		t.Errorf("a client that talks was pinged %d times", n)
	}
	for _, c := range []*liveClient{pushed, halved} {
		if n := c.received.Load(); n < 100 {
			t.Errorf("a streaming app's client got %d messages", n)
		}
	}
	// The app of halves never pauses between two frames: its client is
	// pinged at a boundary inside one of the app's writes (a ping inside a
	// frame would break its stream), and kept.
	select {
	case err := <-halved.ended:
		t.Fatalf("the client of an app that stops inside frames was closed: %v", err)
	default:
	}
	select {
	case <-appEnded:
		t.Fatal("a live client's app socket was closed")
	default:
	}
}

// TestDeadPreviewPeerOfAPreviewHostIsReleased: a WebSocket through a
// preview host (N--id.localhost) is the same proxied socket as through a
// path door: echoed while its client lives, pinged once its client is
// silent, and closed on both sides when no answer comes.
func TestDeadPreviewPeerOfAPreviewHostIsReleased(t *testing.T) {
	const idle = time.Second
	_, hs := newServer(t, func(o *localsandbox.Options) { o.PreviewIdleTimeout = idle })
	port, appEnded := echoApp(t, hs.URL, "pv")
	addr := hs.Listener.Addr().String()
	_, hsPort, _ := net.SplitHostPort(addr)
	host := port + "--pv.localhost:" + hsPort
	ws, resp, err := websocket.Dial(ctx(t), "ws://"+host+"/", &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}}},
		HTTPHeader: http.Header{"Authorization": {"Bearer " + mint(t, "pv", token.ScopeSessionAttach)}},
	})
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, status(resp))
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx(t), websocket.MessageText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := ws.Read(ctx(t)); err != nil || string(msg) != "hello" {
		t.Fatalf("echo %q %v", msg, err)
	}
	_ = ws.Close(websocket.StatusNormalClosure, "")
	select {
	case <-appEnded:
	case <-time.After(20 * time.Second):
		t.Fatal("the app's side of a closed socket stayed open")
	}

	dead := deadpeer.UpgradeHost(t, addr, host, "/", mint(t, "pv", token.ScopeSessionAttach), "websocket")
	start := time.Now()
	err = dead.UntilClosed()
	pings := dead.Pings
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the preview host's socket of a dead peer was still open after %v", time.Since(start))
	}
	if pings == 0 {
		t.Fatal("closed without being pinged first")
	}
	select {
	case <-appEnded:
	case <-time.After(20 * time.Second):
		t.Fatal("the app's side of the dead peer's socket stayed open")
	}
}

// TestDeadPeerOfAnotherProtocolIsReleased: a preview that switched to a
// protocol the server cannot probe is closed once no byte has moved
// either way for the idle timeout and its grace.
func TestDeadPeerOfAnotherProtocolIsReleased(t *testing.T) {
	const idle = time.Second
	grace := time.Second
	_, hs := newServer(t, func(o *localsandbox.Options) { o.PreviewIdleTimeout = idle })
	port, appEnded := echoApp(t, hs.URL, "pr")
	dead := deadpeer.Upgrade(t, hs.Listener.Addr().String(), "/s/pr/port/"+port+"/raw", mint(t, "pr", token.ScopeSessionAttach), "raw")
	start := time.Now()
	n, err := dead.Rest()
	took := time.Since(start)
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the connection of a dead peer was still open after %v", took)
	}
	if n != 0 {
		t.Fatalf("%d bytes were sent into another protocol", n)
	}
	if took < idle+grace || took > idle+grace+2*time.Second {
		t.Fatalf("closed after %v, want %v (and not much more)", took, idle+grace)
	}
	select {
	case <-appEnded:
	case <-time.After(20 * time.Second):
		t.Fatal("the app's side stayed open")
	}
}

// TestDeadPreviewPeerOfStreamingAppIsReleased: an app that streams
// without ever pausing between two of its frames (a small frame every few
// ms, each write of it ending inside the next frame) left the server no
// moment for its ping, and its bytes kept moving to a vanished client
// until the client's buffers filled: minutes at this rate, longer for a
// slower app. Once the client has been silent for the idle timeout, the
// next boundary between two of the app's frames now carries the ping,
// and a client that does not answer within the grace is closed, with the
// app's side. A live client that answers is kept, streamed to all along.
func TestDeadPreviewPeerOfStreamingAppIsReleased(t *testing.T) {
	const idle = time.Second
	grace := time.Second // an eighth of idle, at least 1 s
	bound := idle + grace + 2*time.Second
	_, hs := newServer(t, func(o *localsandbox.Options) { o.PreviewIdleTimeout = idle })
	port, appEnded := echoApp(t, hs.URL, "ps")
	addr := hs.Listener.Addr().String()

	live := dialPreview(t, hs.URL, "ps", port+"/trickle", false, 0)
	proctest.WaitFor(t, "the streaming app's first message", func() bool { return live.received.Load() > 0 })
	goroutines, fds := runtime.NumGoroutine(), openFDs(t)

	released := func(what string, start time.Time) {
		t.Helper()
		select {
		case <-appEnded:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: the app's side of a dead peer's socket was still open after %v", what, time.Since(start))
		}
		took := time.Since(start)
		t.Logf("%s: released after %v", what, took)
		if took < idle || took > bound {
			t.Fatalf("%s: released after %v, want between the idle timeout %v and %v", what, took, idle, bound)
		}
	}

	// A client that reads the app's frames but answers no ping.
	tok := mint(t, "ps", token.ScopeSessionAttach)
	dead := deadpeer.Dial(t, addr, "/s/ps/port/"+port+"/trickle", tok)
	start := time.Now()
	err := dead.UntilClosed()
	pings := dead.Pings
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the preview socket of a dead peer was still open after %v (%d pings)", time.Since(start), pings)
	}
	if pings == 0 {
		t.Fatalf("closed after %v without being pinged first", time.Since(start))
	}
	released("a peer that reads but does not answer", start)
	_ = dead.Close()

	// A client that reads nothing at all any more.
	dead = deadpeer.Dial(t, addr, "/s/ps/port/"+port+"/trickle", tok)
	released("a peer that reads nothing", time.Now())
	_ = dead.Close()
	proctest.WaitFor(t, "the dead peers' goroutines and descriptors to be released", func() bool {
		return runtime.NumGoroutine() <= goroutines && openFDs(t) <= fds
	})

	// The live client, silent but answering, is pinged and kept.
	proctest.WaitFor(t, "a live client of a streaming app to be pinged three times", func() bool {
		select {
		case err := <-live.ended:
			t.Fatalf("a live client's socket ended: %v", err)
		default:
		}
		return live.pings.Load() >= 3
	})
	before := live.received.Load()
	proctest.WaitFor(t, "the live client to be streamed to still", func() bool { return live.received.Load() > before+10 })
	select {
	case <-appEnded:
		t.Fatal("a live client's app socket was closed")
	default:
	}
}
