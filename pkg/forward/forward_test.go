//go:build unix

package forward_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/nimbus-sh/nimbus/pkg/forward"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

const secret = "forward-test-secret-0123456789abcdef"

func mint(t testing.TB, sid string, scopes ...string) string {
	t.Helper()
	tn := "acme"
	in := token.Input{Tenant: &tn, Scopes: scopes, SessionID: &sid}
	tok, err := token.Issuer{Secret: secret}.Mint(in)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func testCtx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// world is a real local backend (the handler of `nimbus dev`) and an app
// listening on a loopback port that sandbox job-1 exposes.
type world struct {
	backend *httptest.Server
	app     *httptest.Server
	port    int
	sb      *sc.Sandbox
}

func newWorld(t testing.TB, app http.Handler) *world {
	t.Helper()
	s, err := localsandbox.New(localsandbox.Options{DataDir: t.TempDir(), Secret: secret, HostEnv: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		hs.Close()
		_ = s.Close()
	})
	as := httptest.NewServer(app)
	t.Cleanup(as.Close)
	u, _ := url.Parse(as.URL)
	port, _ := strconv.Atoi(u.Port())
	c, err := sc.New(sc.Options{Endpoint: hs.URL, Tokens: sc.StaticToken(mint(t, "job-1", token.ScopeSandboxUse))})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.Sandbox("job-1", sc.SandboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.ExposePort(testCtx(t), port, sc.ExposeOptions{}); err != nil {
		t.Fatal(err)
	}
	return &world{backend: hs, app: as, port: port, sb: sb}
}

// forwardTo serves a Proxy on a free local port until the test ends and
// returns its origin.
func forwardTo(t testing.TB, o forward.Options) string {
	t.Helper()
	p, err := forward.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := forward.Listen(0, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- forward.Serve(ctx, ln, p) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// errorLog collects what a forward reports through its OnError.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) add(_ *http.Request, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

// all returns what was reported so far.
func (l *errorLog) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.errs)
}

func staticToken(tok string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return tok, nil }
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestForwardHTTP(t *testing.T) {
	type seen struct{ host, auth, cookie, origin, xff, body string }
	var mu sync.Mutex
	var last seen
	w := newWorld(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		last = seen{r.Host, r.Header.Get("Authorization"), r.Header.Get("Cookie"), r.Header.Get("Origin"), r.Header.Get("X-Forwarded-For"), string(b)}
		mu.Unlock()
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(rw, r, r.Header.Get("X-Forwarded-Prefix")+"/next?x=1", http.StatusFound)
			return
		case "/redirect-abs":
			http.Redirect(rw, r, "http://"+r.Host+r.Header.Get("X-Forwarded-Prefix")+"/", http.StatusFound)
			return
		case "/elsewhere":
			http.Redirect(rw, r, "https://example.com/s/job-1/port/1/", http.StatusFound)
			return
		case "/cookie":
			http.SetCookie(rw, &http.Cookie{Name: "sess", Value: "v", Path: r.Header.Get("X-Forwarded-Prefix") + "/app", Domain: strings.Split(r.Host, ":")[0]})
			http.SetCookie(rw, &http.Cookie{Name: "plain", Value: "w", Path: "/other"})
		}
		_, _ = io.WriteString(rw, r.Method+" "+r.URL.RequestURI())
	}))
	var reports atomic.Int32
	local := forwardTo(t, forward.Options{
		Endpoint: w.backend.URL, SandboxID: "job-1", Port: w.port,
		Token:   staticToken(mint(t, "job-1", token.ScopeSessionAttach)),
		OnError: func(*http.Request, error) { reports.Add(1) },
	})
	ep, _ := url.Parse(w.backend.URL)

	req, _ := http.NewRequest(http.MethodPost, local+"/a/b%2Fc?q=1&r=two", strings.NewReader("payload"))
	req.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
	req.Header.Set("Cookie", "theme=dark; __Host-nimbus_token=leak")
	req.Header.Set("Origin", local)
	resp, body := do(t, req)
	if resp.StatusCode != 200 || body != "POST /a/b%2Fc?q=1&r=two" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	mu.Lock()
	got := last
	mu.Unlock()
	// The app sees the Worker's host and origin, the body, its own cookies,
	// and never a credential.
	want := seen{host: ep.Host, cookie: "theme=dark", origin: w.backend.URL, body: "payload"}
	if got.xff != "" {
		// The backend adds X-Forwarded-For for its own hop only.
		got.xff = ""
	}
	if got != want {
		t.Fatalf("app saw %+v\nwant      %+v", got, want)
	}
	// Another loopback origin (a page of another forwarded port) is passed
	// as it is (the app decides); other sites are refused
	// (TestForwardRefusesCrossSiteRequests).
	req, _ = http.NewRequest(http.MethodGet, local+"/", nil)
	req.Header.Set("Origin", "http://localhost:1")
	do(t, req)
	mu.Lock()
	if last.origin != "http://localhost:1" {
		t.Errorf("foreign origin rewritten to %q", last.origin)
	}
	mu.Unlock()

	for path, loc := range map[string]string{"/redirect": "/next?x=1", "/redirect-abs": "/", "/elsewhere": "https://example.com/s/job-1/port/1/"} {
		req, _ = http.NewRequest(http.MethodGet, local+path, nil)
		if resp, _ := do(t, req); resp.StatusCode != 302 || resp.Header.Get("Location") != loc {
			t.Errorf("%s: %d Location %q, want %q", path, resp.StatusCode, resp.Header.Get("Location"), loc)
		}
	}
	req, _ = http.NewRequest(http.MethodGet, local+"/cookie", nil)
	resp, _ = do(t, req)
	cs := resp.Header.Values("Set-Cookie")
	if len(cs) != 2 || cs[0] != "sess=v; Path=/app" || cs[1] != "plain=w; Path=/other" {
		t.Errorf("Set-Cookie %q", cs)
	}
	if n := reports.Load(); n != 0 {
		t.Errorf("%d errors reported for successful requests", n)
	}
}

func TestForwardWebSocket(t *testing.T) {
	w := newWorld(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		// Accept checks that Origin matches Host, as browsers' servers do.
		c, err := websocket.Accept(rw, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte("echo:"), msg...)); err != nil {
				return
			}
		}
	}))
	local := forwardTo(t, forward.Options{Endpoint: w.backend.URL, SandboxID: "job-1", Port: w.port, Token: staticToken(mint(t, "job-1", token.ScopeSessionAttach))})
	ctx := testCtx(t)
	// As a page served by the forward would: with the local origin.
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(local, "http")+"/ws", &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {local}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	for _, m := range []string{"hello", strings.Repeat("x", 100000)} {
		if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.Read(ctx)
		if err != nil || string(got) != "echo:"+m {
			t.Fatalf("read %d bytes, %v", len(got), err)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
}

// Stopping the forward closes open WebSockets too.
func TestServeStopsUpgradedConnections(t *testing.T) {
	w := newWorld(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(rw, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		_, _, _ = c.Read(r.Context())
	}))
	p, err := forward.New(forward.Options{Endpoint: w.backend.URL, SandboxID: "job-1", Port: w.port, Token: staticToken(mint(t, "job-1", token.ScopeSessionAttach))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := forward.Listen(0, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- forward.Serve(ctx, ln, p) }()
	c, _, err := websocket.Dial(testCtx(t), "ws://"+ln.Addr().String()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return with a WebSocket open")
	}
	if _, _, err := c.Read(testCtx(t)); err == nil {
		t.Fatal("the WebSocket is still open")
	}
}

func TestForwardRefusalsAreReported(t *testing.T) {
	w := newWorld(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/app-denies" {
			rw.Header().Set("Content-Type", "application/json")
			rw.WriteHeader(403)
			_, _ = io.WriteString(rw, `{"error":"nope","code":"APP"}`)
			return
		}
		_, _ = io.WriteString(rw, "secret data")
	}))
	for _, c := range []struct {
		tok  string
		code string
	}{
		{mint(t, "job-1", token.ScopeSandboxUse), "E_SCOPE_MISSING"},
		{mint(t, "job-2", token.ScopeSessionAttach), "E_SESSION_PIN_MISMATCH"},
	} {
		reported := &errorLog{}
		local := forwardTo(t, forward.Options{Endpoint: w.backend.URL, SandboxID: "job-1", Port: w.port, Token: staticToken(c.tok), OnError: reported.add})
		req, _ := http.NewRequest(http.MethodGet, local+"/", nil)
		resp, body := do(t, req)
		if resp.StatusCode != 403 || strings.Contains(body, "secret data") || !strings.Contains(body, c.code) {
			t.Fatalf("%s: %d %s", c.code, resp.StatusCode, body)
		}
		errs := reported.all()
		var re *sc.RemoteError
		if len(errs) != 1 || !errors.As(errs[0], &re) || re.Code != c.code || re.Status != 403 {
			t.Errorf("%s: reported %v", c.code, errs)
		}
	}
	// The app's own refusals are the app's business.
	reported := &errorLog{}
	local := forwardTo(t, forward.Options{Endpoint: w.backend.URL, SandboxID: "job-1", Port: w.port, Token: staticToken(mint(t, "job-1", token.ScopeSessionAttach)), OnError: reported.add})
	req, _ := http.NewRequest(http.MethodGet, local+"/app-denies", nil)
	if resp, body := do(t, req); resp.StatusCode != 403 || body != `{"error":"nope","code":"APP"}` {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	// A port no longer exposed is reported too.
	if _, err := w.sb.UnexposePort(testCtx(t), w.port); err != nil {
		t.Fatal(err)
	}
	if resp, body := do(t, req); resp.StatusCode != 404 || !strings.Contains(body, "E_PORT_NOT_EXPOSED") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if errs := reported.all(); len(errs) != 1 || !sc.HasCode(errs[0], "E_PORT_NOT_EXPOSED") {
		t.Errorf("reported %v", errs)
	}
}

func TestForwardUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	var got error
	var mu sync.Mutex
	local := forwardTo(t, forward.Options{Endpoint: dead, SandboxID: "job-1", Port: 3000, OnError: func(_ *http.Request, err error) {
		mu.Lock()
		got = err
		mu.Unlock()
	}})
	req, _ := http.NewRequest(http.MethodGet, local+"/", nil)
	resp, body := do(t, req)
	if resp.StatusCode != 502 || !strings.Contains(body, "cannot reach "+dead) {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if !sc.HasCode(got, forward.CodeUpstream) {
		t.Fatalf("reported %v", got)
	}
}

func TestTokenIsReusedForItsTTL(t *testing.T) {
	w := newWorld(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(rw, "ok") }))
	var calls atomic.Int32
	tok := mint(t, "job-1", token.ScopeSessionAttach)
	local := forwardTo(t, forward.Options{Endpoint: w.backend.URL, SandboxID: "job-1", Port: w.port, Token: func(context.Context) (string, error) {
		calls.Add(1)
		return tok, nil
	}})
	for range 5 {
		req, _ := http.NewRequest(http.MethodGet, local+"/", nil)
		if resp, body := do(t, req); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("Token called %d times", n)
	}
	// A failing token source fails the request, clearly.
	local = forwardTo(t, forward.Options{Endpoint: w.backend.URL, SandboxID: "job-1", Port: w.port, Token: func(context.Context) (string, error) {
		return "", errors.New("JWT_SECRET unreadable")
	}})
	req, _ := http.NewRequest(http.MethodGet, local+"/", nil)
	if resp, body := do(t, req); resp.StatusCode != 502 || !strings.Contains(body, "JWT_SECRET unreadable") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func TestListenFallsBackWhenTaken(t *testing.T) {
	taken, err := forward.Listen(0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	if _, err := forward.Listen(port, false); !sc.HasCode(err, forward.CodeListen) || !strings.Contains(err.Error(), "127.0.0.1:"+strconv.Itoa(port)) {
		t.Fatalf("taken without fallback: %v", err)
	}
	ln, err := forward.Listen(port, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if got := ln.Addr().(*net.TCPAddr); got.Port == port || !got.IP.IsLoopback() {
		t.Fatalf("fallback listens on %v", got)
	}
}

// Only loopback names reach the sandbox: a rebound name is refused before
// anything is sent.
func TestForwardRefusesOtherHosts(t *testing.T) {
	var hits atomic.Int32
	w := newWorld(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	local := forwardTo(t, forward.Options{Endpoint: w.backend.URL, SandboxID: "job-1", Port: w.port, Token: staticToken(mint(t, "job-1", token.ScopeSessionAttach))})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(local, "http://"))
	for host, ok := range map[string]bool{
		"127.0.0.1:" + port: true, "localhost:" + port: true, "LOCALHOST.:" + port: true, "app.localhost:" + port: true,
		"[::1]:" + port: true, "127.0.0.1": true, "evil.example:" + port: false, "10.0.0.1:" + port: false,
		"localhost.evil.example": false,
	} {
		req, _ := http.NewRequest(http.MethodGet, local+"/", nil)
		req.Host = host
		resp, body := do(t, req)
		if (resp.StatusCode == 200) != ok {
			t.Errorf("Host %q: %d %s", host, resp.StatusCode, body)
		}
		if !ok && (resp.StatusCode != 403 || !strings.Contains(body, "refusing Host")) {
			t.Errorf("Host %q: %d %s", host, resp.StatusCode, body)
		}
	}
	if n := hits.Load(); n != 6 {
		t.Errorf("the app saw %d requests, want 6", n)
	}
}

func TestNewChecksOptions(t *testing.T) {
	for _, o := range []forward.Options{
		{Endpoint: "ftp://x", SandboxID: "a", Port: 1},
		{Endpoint: "http://x/base", SandboxID: "a", Port: 1},
		{Endpoint: "http://x", SandboxID: "a/b", Port: 1},
		{Endpoint: "http://x", SandboxID: "a", Port: 0},
		{Endpoint: "http://x", SandboxID: "a", Port: 65536},
	} {
		if _, err := forward.New(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	p, err := forward.New(forward.Options{Endpoint: "https://w.example/", SandboxID: "job.1", Port: 8080})
	if err != nil || p.Door() != "/s/job.1/port/8080" {
		t.Fatalf("%v %v", p, err)
	}
}

// TestNewHidesTheEndpointPassword: the error about an endpoint forward
// cannot use (one with a path, which a sandbox client accepts) does not
// show the password of its userinfo.
func TestNewHidesTheEndpointPassword(t *testing.T) {
	for _, ep := range []string{"https://alice:s3cret-pw@w.example/base", "ftp://alice:s3cret-pw@w.example"} {
		_, err := forward.New(forward.Options{Endpoint: ep, SandboxID: "a", Port: 1})
		if err == nil || strings.Contains(err.Error(), "s3cret-pw") || !strings.Contains(err.Error(), "alice:xxxxx@w.example") {
			t.Errorf("%q: %v", ep, err)
		}
	}
}

// TestConnectTimeoutBoundsTheHandshake: a Worker address that accepts TCP
// but never answers the TLS handshake costs ConnectTimeout, not the fixed
// bounds of the default transport (15 s before NIMBUS_HTTP_TIMEOUT reached
// forward).
func TestConnectTimeoutBoundsTheHandshake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held sync.WaitGroup
	stop := make(chan struct{})
	defer func() { ln.Close(); close(stop); held.Wait() }()
	held.Add(1)
	go func() {
		defer held.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held.Add(1) // the accept loop is counted: no Add from zero
			go func() { defer held.Done(); <-stop; c.Close() }()
		}
	}()
	local := forwardTo(t, forward.Options{Endpoint: "https://" + ln.Addr().String(), SandboxID: "job-1", Port: 3000, ConnectTimeout: 200 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, local+"/", nil)
	resp, body := do(t, req)
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}

// A page on another site must not drive the sandbox app with the
// forward's credential: what the Worker refuses to a preview cookie from
// another origin (E_CROSS_SITE_REFUSED), the forward refuses to any
// browser request from a non-loopback origin, WebSockets included. Pages
// on loopback origins (the forward's own, another forwarded port) and
// navigations pass.
func TestForwardRefusesCrossSiteRequests(t *testing.T) {
	var hits atomic.Int32
	w := newWorld(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("Upgrade") != "" {
			c, err := websocket.Accept(rw, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
			if err == nil {
				c.CloseNow()
			}
			return
		}
		_, _ = io.WriteString(rw, "secret data")
	}))
	local := forwardTo(t, forward.Options{Endpoint: w.backend.URL, SandboxID: "job-1", Port: w.port, Token: staticToken(mint(t, "job-1", token.ScopeSessionAttach))})
	type tc struct {
		method string
		hdr    map[string]string
		ok     bool
	}
	for name, c := range map[string]tc{
		"foreign origin":          {http.MethodPost, map[string]string{"Origin": "https://evil.example"}, false},
		"foreign origin GET":      {http.MethodGet, map[string]string{"Origin": "http://evil.example:80", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}, false},
		"opaque origin":           {http.MethodPost, map[string]string{"Origin": "null"}, false},
		"rebound name as origin":  {http.MethodPost, map[string]string{"Origin": "http://localhost.evil.example"}, false},
		"cross-site subresource":  {http.MethodGet, map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}, false},
		"own origin":              {http.MethodPost, map[string]string{"Origin": local, "Sec-Fetch-Site": "same-origin"}, true},
		"another forwarded port":  {http.MethodPost, map[string]string{"Origin": "http://localhost:1", "Sec-Fetch-Site": "same-site"}, true},
		"loopback IPv6 origin":    {http.MethodPost, map[string]string{"Origin": "http://[::1]:5173"}, true},
		"navigation from a link":  {http.MethodGet, map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, true},
		"not a browser (no hint)": {http.MethodGet, nil, true},
	} {
		before := hits.Load()
		req, _ := http.NewRequest(c.method, local+"/data", nil)
		for k, v := range c.hdr {
			req.Header.Set(k, v)
		}
		resp, body := do(t, req)
		reached := hits.Load() != before
		if c.ok && (resp.StatusCode != 200 || body != "secret data") {
			t.Errorf("%s: %d %q, want the app's answer", name, resp.StatusCode, body)
		}
		if !c.ok && (resp.StatusCode != 403 || reached || !strings.Contains(body, "cross-site")) {
			t.Errorf("%s: %d %q (app reached: %v), want 403 before the Worker", name, resp.StatusCode, body, reached)
		}
	}
	// A WebSocket opened by a page on another site.
	before := hits.Load()
	ws := "ws" + strings.TrimPrefix(local, "http") + "/ws"
	c, resp, err := websocket.Dial(testCtx(t), ws, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example"}}})
	if err == nil {
		c.CloseNow()
		t.Fatal("a WebSocket from https://evil.example was opened")
	}
	if resp == nil || resp.StatusCode != 403 || hits.Load() != before {
		t.Fatalf("WebSocket from another site: %v (app reached: %v)", err, hits.Load() != before)
	}
	// One from the forward's own page opens.
	c, _, err = websocket.Dial(testCtx(t), ws, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {local}}})
	if err != nil {
		t.Fatalf("WebSocket from the local origin: %v", err)
	}
	c.CloseNow()
}

// A request the forward refuses from its headers (another Host, a page on
// another site) is answered at once and its connection ended: the forward
// sets no read deadline, and net/http would otherwise read up to 256 KiB
// of the body before answering, waiting as long as the client drips it.
func TestRefusalsDoNotWaitForTheBody(t *testing.T) {
	var hits atomic.Int32
	w := newWorld(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	local := forwardTo(t, forward.Options{Endpoint: w.backend.URL, SandboxID: "job-1", Port: w.port, Token: staticToken(mint(t, "job-1", token.ScopeSessionAttach))})
	addr := strings.TrimPrefix(local, "http://")
	for name, head := range map[string]string{
		"cross-site, chunked":      "POST /form HTTP/1.1\r\nHost: " + addr + "\r\nOrigin: https://evil.example\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n",
		"cross-site, short body":   "POST /form HTTP/1.1\r\nHost: " + addr + "\r\nOrigin: null\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\nx",
		"rebound name, short body": "POST /form HTTP/1.1\r\nHost: evil.example\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\nx",
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			c.Close()
			t.Fatalf("%s: no answer while the body is on its way: %v", name, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 403 || !resp.Close {
			t.Errorf("%s: status %d, Connection: close %v; want 403 and the connection's end", name, resp.StatusCode, resp.Close)
		}
		c.Close()
	}
	if hits.Load() != 0 {
		t.Fatal("the app was reached")
	}
}

// A keep-alive connection left idle after an answer is closed: without a
// bound any local process could hold connections, and the descriptors
// behind them, for as long as the forward runs. (One with nothing sent is
// closed by the header timeout.)
func TestIdleConnectionsAreClosed(t *testing.T) {
	t.Cleanup(forward.SetIdleTimeout(200 * time.Millisecond))
	w := newWorld(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(rw, "ok") }))
	local := forwardTo(t, forward.Options{Endpoint: w.backend.URL, SandboxID: "job-1", Port: w.port, Token: staticToken(mint(t, "job-1", token.ScopeSessionAttach))})
	addr := strings.TrimPrefix(local, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 || resp.Close {
		t.Fatalf("status %d, close %v: want a kept-alive answer", resp.StatusCode, resp.Close)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.Copy(io.Discard, br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("an idle connection was kept open")
	}
}

// TestForwardKeepsRequestsInsideTheDoor: a request path with dot segments
// ("..", or the "%2e%2e" a URL parser also takes for one) would leave the
// door /s/<id>/port/<port> once the Worker resolves it (WHATWG URL parsing,
// Cloudflare's URL normalization), and reach the Worker's other routes
// (its RPC API) with the forward's bearer token. Browsers resolve such
// segments before they send a request, so only a crafted request has
// them: it is refused with 400 and never sent; other paths pass.
func TestForwardKeepsRequestsInsideTheDoor(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	worker := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.RequestURI)
		mu.Unlock()
		_, _ = io.WriteString(rw, "ok")
	}))
	t.Cleanup(worker.Close)
	local := forwardTo(t, forward.Options{Endpoint: worker.URL, SandboxID: "job-1", Port: 3000, Token: staticToken("tok")})

	for _, p := range []string{
		"/../../../api/nimbus/v1/sandboxes/job-1/rpc",
		"/a/%2e%2e/%2E%2e/%2e./.%2E/api",
		"/a/..",
		"/./x",
		"/a/..%5cx/../y",
	} {
		mu.Lock()
		seen = nil
		mu.Unlock()
		req, err := http.NewRequest(http.MethodGet, local+p, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, body := do(t, req)
		mu.Lock()
		sent := seen
		mu.Unlock()
		if resp.StatusCode != http.StatusBadRequest || len(sent) != 0 {
			t.Errorf("%s: %d %q, the Worker was sent %q; want 400 and nothing sent", p, resp.StatusCode, body, sent)
		}
	}
	for _, p := range []string{"/", "/a/b.c/..d/%2e%2ex/...", "/a%2Fb", "/a%5C..%5C..%5Cx"} {
		mu.Lock()
		seen = nil
		mu.Unlock()
		req, _ := http.NewRequest(http.MethodGet, local+p, nil)
		resp, body := do(t, req)
		mu.Lock()
		sent := seen
		mu.Unlock()
		if resp.StatusCode != 200 || len(sent) != 1 || sent[0] != "/s/job-1/port/3000"+p {
			t.Errorf("%s: %d %q, the Worker was sent %q", p, resp.StatusCode, body, sent)
		}
	}
}
