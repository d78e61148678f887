//go:build unix

package localdev_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/cmd/internal/localdev"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

const testSecret = "serve-test-secret-0123456789abcdef"

// devServer runs the local backend behind ServeOptions on a loopback port,
// as `nimbus dev` does, and returns its address.
func devServer(t testing.TB, o localdev.ServeOptions) string {
	t.Helper()
	return devServerWrapped(t, o, nil, nil)
}

// devServerWrapped is devServer with the backend wrapped in wrap (when not
// nil), inside the bounds of o, telling accepted (when not nil, and not
// full) each connection the server accepts.
func devServerWrapped(t testing.TB, o localdev.ServeOptions, wrap func(http.Handler) http.Handler, accepted chan<- struct{}) string {
	t.Helper()
	return devServerAt(t, "127.0.0.1:0", o, wrap, accepted)
}

// devServerAt is devServerWrapped listening on listen, its backend's
// options changed by mod.
func devServerAt(t testing.TB, listen string, o localdev.ServeOptions, wrap func(http.Handler) http.Handler, accepted chan<- struct{}, mod ...func(*localsandbox.Options)) string {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	bo := localsandbox.Options{
		DataDir: t.TempDir(), Secret: testSecret, HostEnv: []string{"PATH=" + os.Getenv("PATH")},
		Hosts: localsandbox.NewHostPolicy(ln.Addr(), nil),
	}
	for _, m := range mod {
		m(&bo)
	}
	s, err := localsandbox.New(bo)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var h http.Handler = s
	if wrap != nil {
		h = wrap(s)
	}
	var l net.Listener = ln
	if accepted != nil {
		l = signalListener{Listener: ln, accepted: accepted}
	}
	go func() { done <- o.Serve(ctx, l, h) }()
	t.Cleanup(func() {
		cancel()
		<-done
		s.Close()
	})
	return ln.Addr().String()
}

// signalListener tells accepted of each connection it accepts.
type signalListener struct {
	net.Listener
	accepted chan<- struct{}
}

func (l signalListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		select {
		case l.accepted <- struct{}{}:
		default:
		}
	}
	return c, err
}

func devToken(t testing.TB, scopes ...string) string {
	t.Helper()
	tok, err := localdev.Mint(localdev.TokenOptions{Secret: testSecret, Scopes: scopes, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// closedWithin reports how long the server took to close c (reads until
// EOF or a reset), failing after limit.
func closedWithin(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %v", limit)
	}
	return time.Since(start)
}

// TestSlowHeadersAreCutOff: a client sending its request head one byte at
// a time (slowloris) is disconnected once the header timeout passes.
func TestSlowHeadersAreCutOff(t *testing.T) {
	addr := devServer(t, localdev.ServeOptions{HeaderTimeout: 500 * time.Millisecond})
	// The server's clock starts when it accepts, which may be well before
	// Dial returns on a loaded machine: measure from before the dial.
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	head := "POST /api/nimbus/v1/sandboxes/box/rpc HTTP/1.1\r\nHost: " + addr + "\r\nX-Slow: " + strings.Repeat("a", 100)
	go func() {
		for i := 0; i < len(head); i++ {
			if _, err := c.Write([]byte{head[i]}); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	closedWithin(t, c, 20*time.Second)
	d := time.Since(start)
	t.Logf("closed after %v (header timeout 500ms)", d)
	if d < 500*time.Millisecond {
		t.Fatalf("closed after %v, before the header timeout", d)
	}
}

// TestIdleConnectionsAreClosed: a keep-alive connection left idle is
// closed by the server.
func TestIdleConnectionsAreClosed(t *testing.T) {
	addr := devServer(t, localdev.ServeOptions{IdleTimeout: 500 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /s/box HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Close {
		t.Fatalf("%d close=%v", resp.StatusCode, resp.Close)
	}
	closedWithin(t, c, 20*time.Second)
}

// TestSlowBodiesAreCutOff: an authenticated request whose body stops
// arriving is answered 408 once the body timeout passes.
func TestSlowBodiesAreCutOff(t *testing.T) {
	addr := devServer(t, localdev.ServeOptions{BodyTimeout: 500 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /api/nimbus/v1/sandboxes/box/rpc HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"op\":", addr, devToken(t, token.ScopeSandboxUse))
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 408 || !strings.Contains(string(body), `"code":"E_BODY_TIMEOUT"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

// TestConnectionsAreBounded: beyond MaxConns, clients wait in the listen
// queue and are served once a connection closes.
func TestConnectionsAreBounded(t *testing.T) {
	// The requests that reach the backend: a connection whose request
	// head the server has not read yet is quiet, and would rightly be
	// closed to make room.
	handled := make(chan struct{}, 16)
	addr := devServerWrapped(t, localdev.ServeOptions{MaxConns: 3, HeaderTimeout: time.Minute}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			handled <- struct{}{}
			h.ServeHTTP(w, r)
		})
	}, nil)
	// Three requests in progress (their bodies still arriving) hold every
	// slot: none of them is closed to make room.
	tok := devToken(t, token.ScopeSandboxUse)
	var held []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		head := "POST /api/nimbus/v1/sandboxes/box/rpc HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + tok +
			"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"op\":"
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	for range held {
		select {
		case <-handled:
		case <-time.After(20 * time.Second):
			t.Fatal("the three requests did not reach the backend")
		}
	}
	get := func(timeout time.Duration) error {
		c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get("http://" + addr + "/s/box")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	if err := get(700 * time.Millisecond); err == nil {
		t.Fatal("a fourth connection was served while three were open")
	}
	held[0].Close()
	if err := get(20 * time.Second); err != nil {
		t.Fatalf("not served after a slot freed: %v", err)
	}
}

// TestQuietConnectionsMakeRoom: connections that hold every slot without
// a request being handled (keep-alive connections idle between requests,
// connections that sent nothing or only part of a request head) do not lock a new client out for the
// idle timeout: the oldest is closed to make room, and a client that had
// kept an idle connection gets its next request served on a new one.
func TestQuietConnectionsMakeRoom(t *testing.T) {
	accepted := make(chan struct{}, 64)
	addr := devServerWrapped(t, localdev.ServeOptions{MaxConns: 4, HeaderTimeout: time.Minute, IdleTimeout: time.Hour}, nil, accepted)
	keepAlive := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	get := func(c *http.Client) error {
		resp, err := c.Get("http://" + addr + "/s/box")
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil
	}
	// Two idle keep-alive connections (two requests at once, then idle).
	errc := make(chan error, 2)
	for range 2 {
		go func() { errc <- get(keepAlive) }()
	}
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	// A connection that sends nothing, one that sends its head slowly.
	// (The keep-alive connections were accepted before they were
	// answered.)
	for len(accepted) > 0 {
		<-accepted
	}
	for _, sent := range []string{"", "GET /s/box HTTP/1.1\r\nHo"} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, sent); err != nil {
			t.Fatal(err)
		}
	}
	// Fresh clients come once the server holds them.
	for range 2 {
		select {
		case <-accepted:
		case <-time.After(20 * time.Second):
			t.Fatal("the server did not accept the quiet connections")
		}
	}
	fresh := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := range 6 {
		if err := get(fresh); err != nil {
			t.Fatalf("client %d locked out by quiet connections: %v", i, err)
		}
	}
	// The keep-alive client's connections may have been closed for room:
	// its next request still succeeds.
	if err := get(keepAlive); err != nil {
		t.Fatalf("keep-alive client after eviction: %v", err)
	}
}

// TestLongAnswersOutliveEveryTimeout: with every bound at a fraction of a
// second, an exec stream that is silent for longer still completes, and so
// do a buffered exec and a slow preview response.
func TestLongAnswersOutliveEveryTimeout(t *testing.T) {
	short := 300 * time.Millisecond
	addr := devServer(t, localdev.ServeOptions{HeaderTimeout: short, BodyTimeout: short, WriteTimeout: short, IdleTimeout: short})
	tok := devToken(t, token.ScopeSandboxUse, token.ScopeSessionAttach)
	post := func(body string) (*http.Response, []byte) {
		req, _ := http.NewRequest("POST", "http://"+addr+"/api/nimbus/v1/sandboxes/box/rpc", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("reading the answer: %v (%d bytes)", err, len(b))
		}
		return resp, b
	}
	resp, b := post(`{"op":"execStream","args":["echo start; sleep 1.5; echo done"]}`)
	if resp.StatusCode != 200 || !strings.Contains(string(b), "done\n") || !strings.Contains(string(b), `"exitCode":0`) {
		t.Fatalf("stream: %d %q", resp.StatusCode, b)
	}
	resp, b = post(`{"op":"exec","args":["sleep 1; echo buffered"]}`)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"stdout":"buffered\n"`) {
		t.Fatalf("exec: %d %s", resp.StatusCode, b)
	}
	// A preview whose app answers slowly.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		time.Sleep(time.Second)
		io.WriteString(w, "late")
	})}
	go app.Serve(ln)
	defer app.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	if _, b := post(`{"op":"exposePort","args":[` + port + `]}`); !strings.Contains(string(b), `"ok":true`) {
		t.Fatalf("%s", b)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/s/box/port/"+port+"/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	presp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer presp.Body.Close()
	if pb, err := io.ReadAll(presp.Body); err != nil || string(pb) != "late" {
		t.Fatalf("preview: %q %v", pb, err)
	}
}

// TestStalledReaderIsDisconnected: a client that stops reading a large
// answer holds the server only for the write timeout.
func TestStalledReaderIsDisconnected(t *testing.T) {
	addr := devServer(t, localdev.ServeOptions{WriteTimeout: 500 * time.Millisecond})
	tok := devToken(t, token.ScopeSandboxUse)
	mk := `{"op":"exec","args":["head -c 20000000 /dev/zero > big"]}`
	req, _ := http.NewRequest("POST", "http://"+addr+"/api/nimbus/v1/sandboxes/box/rpc", strings.NewReader(mk))
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body, _ := json.Marshal(map[string]any{"op": "readFileBytes", "args": []string{"/home/user/big"}})
	fmt.Fprintf(c, "POST /api/nimbus/v1/sandboxes/box/rpc HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", addr, tok, len(body), body)
	// Once the answer starts (its first byte is here), stop reading for
	// several write timeouts: the 27 MB answer is far more than the socket
	// buffers hold, so the server's write stalls.
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Minute))
	first := make([]byte, 1)
	if _, err := io.ReadFull(c, first); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, _ := io.Copy(io.Discard, c); n+1 >= 20000000*4/3 {
		t.Fatalf("the whole answer (%d bytes) waited for a client that did not read", n+1)
	}
}

// TestBusyConnectionsAreNotCutForRoom: while every slot is held by a
// client sending request after request, new clients wait for room instead
// of having a connection closed that its client is about to reuse: a
// request written on a closed connection comes back as a reset, and no
// client retries a POST.
func TestBusyConnectionsAreNotCutForRoom(t *testing.T) {
	addr := devServer(t, localdev.ServeOptions{MaxConns: 2, HeaderTimeout: time.Minute, IdleTimeout: time.Hour})
	tok := devToken(t, token.ScopeSandboxUse)
	post := func(c *http.Client) error {
		req, _ := http.NewRequest("POST", "http://"+addr+"/api/nimbus/v1/sandboxes/busy/rpc", strings.NewReader(`{"op":"ready","args":[]}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	stop := make(chan struct{})
	done := make(chan []error, 2)
	for range 2 {
		c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}}
		go func() {
			var errs []error
			for n := 0; ; n++ {
				select {
				case <-stop:
					done <- errs
					return
				default:
				}
				if err := post(c); err != nil {
					errs = append(errs, err)
				}
				if n%8 == 7 {
					// Now and then a pause, as a client doing work between
					// its requests.
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	// Newcomers keep arriving; they may wait (and time out): that is
	// what they are here for.
	churn := &http.Client{Timeout: 150 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(deadline) {
		go func() { _ = post(churn) }()
		time.Sleep(15 * time.Millisecond)
	}
	close(stop)
	for range 2 {
		if errs := <-done; len(errs) > 0 {
			t.Fatalf("a busy client's requests failed (%d), first: %v", len(errs), errs[0])
		}
	}
}

// TestRefusalsDoNotWaitForTheBody: a request refused from its headers
// alone (no token, another Host, a token without the scope) is answered
// at once, its body never waited for: net/http would otherwise read up to
// 256 KiB of it (a chunked body, or a declared one under that) before
// sending the refusal, so that a client dripping bodies without a token
// held a connection, never evicted for room, for the whole body timeout.
// The connection then ends.
func TestRefusalsDoNotWaitForTheBody(t *testing.T) {
	addr := devServer(t, localdev.ServeOptions{BodyTimeout: time.Hour})
	rpc := "POST /api/nimbus/v1/sandboxes/box/rpc HTTP/1.1\r\nContent-Type: application/json\r\n"
	for _, tc := range []struct {
		name, head string
		want       int
	}{
		{"no token, chunked", rpc + "Host: " + addr + "\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n{\"op\":\r\n", 401},
		{"no token, short declared body", rpc + "Host: " + addr + "\r\nContent-Length: 100000\r\n\r\n{\"op\":", 401},
		{"token without the scope", rpc + "Host: " + addr + "\r\nAuthorization: Bearer " + devToken(t, token.ScopeSessionAttach) + "\r\nContent-Length: 100000\r\n\r\n{\"op\":", 403},
		{"another Host", rpc + "Host: evil.example\r\nAuthorization: Bearer " + devToken(t, token.ScopeSandboxUse) + "\r\nContent-Length: 100000\r\n\r\n{\"op\":", 403},
		{"/new without a token", "POST /new HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n", 401},
	} {
		t.Run(tc.name, func(t *testing.T) { answeredWithoutTheBody(t, addr, tc.head, tc.want) })
	}
}

// answeredWithoutTheBody sends head (a request whose body never arrives
// whole) to the server at addr and checks that the answer, status want,
// comes at once and ends the connection.
func answeredWithoutTheBody(t *testing.T, addr, head string, want int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	method, _, _ := strings.Cut(head, " ")
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("no answer while the body is on its way: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != want || !resp.Close {
		t.Fatalf("status %d, Connection: close %v; want %d and the connection's end", resp.StatusCode, resp.Close, want)
	}
	closedWithin(t, c, 10*time.Second)
}

// TestOpenAnswersDoNotWaitForTheBody: the answers given without a token
// (the session root's page, the rpc route's CORS preflight) do not read a
// body either; sent with one that never arrives, they come at once and end
// the connection, instead of holding it (busy, so never closed for room)
// for as long as the server waits for a body.
func TestOpenAnswersDoNotWaitForTheBody(t *testing.T) {
	addr := devServer(t, localdev.ServeOptions{BodyTimeout: time.Hour})
	for _, tc := range []struct {
		name, head string
		want       int
	}{
		{"session root, declared body", "GET /s/box/ HTTP/1.1\r\nHost: " + addr + "\r\nContent-Length: 1000\r\n\r\nx", 200},
		{"session root, chunked", "HEAD /s/box/ HTTP/1.1\r\nHost: " + addr + "\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n", 200},
		{"preflight, declared body", "OPTIONS /api/nimbus/v1/sandboxes/box/rpc HTTP/1.1\r\nHost: " + addr + "\r\nContent-Length: 1000\r\n\r\nx", 204},
		{"preflight, chunked", "OPTIONS /api/nimbus/v1/sandboxes/box/rpc HTTP/1.1\r\nHost: " + addr + "\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n", 204},
	} {
		t.Run(tc.name, func(t *testing.T) { answeredWithoutTheBody(t, addr, tc.head, tc.want) })
	}
	// Without a body the connection stays open for the next request.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for range 2 {
		if _, err := io.WriteString(c, "GET /s/box/ HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("status %d, Connection: close %v; want 200 on a connection kept open", resp.StatusCode, resp.Close)
		}
	}
}
