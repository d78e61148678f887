package sandboxserver_test

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/token"
)

// countingConn counts the bytes the server read from a connection.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, &l.n}, nil
}

// startCounting serves h on a listener that counts what the server reads.
func startCounting(t *testing.T, h http.Handler) (string, *countingListener) {
	t.Helper()
	hs := httptest.NewUnstartedServer(h)
	cl := &countingListener{Listener: hs.Listener}
	hs.Listener = cl
	hs.Start()
	t.Cleanup(hs.Close)
	return hs.Listener.Addr().String(), cl
}

// stalledRequest sends a request head and the first bytes of a body it
// never finishes, and returns the status of the answer (0 when there is
// none within the wait).
func stalledRequest(t *testing.T, addr, head string, body string, wait time.Duration) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(head + body)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func rpcHead(addr, auth string, length int64, extra ...string) string {
	h := "POST /api/nimbus/v1/sandboxes/box/rpc HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\nContent-Length: " + strconv.FormatInt(length, 10) + "\r\n"
	if auth != "" {
		h += "Authorization: Bearer " + auth + "\r\n"
	}
	for _, e := range extra {
		h += e + "\r\n"
	}
	return h + "\r\n"
}

// TestUnauthenticatedBodyIsNeverRead: a request without a valid token is
// answered from its headers while its 100 MiB body is still on the way,
// and the server reads almost none of it.
func TestUnauthenticatedBodyIsNeverRead(t *testing.T) {
	srv, b := newServer(t)
	addr, cl := startCounting(t, srv.Config.Handler)
	for _, tok := range []string{"", "not.a.token", mint(t, []string{"session:create"}, "")} {
		before := cl.n.Load()
		status := stalledRequest(t, addr, rpcHead(addr, tok, 100<<20), `{"op":"void","args":["`+strings.Repeat("x", 4096), 10*time.Second)
		if status != 401 && status != 403 {
			t.Fatalf("token %q: status %d, want an auth failure before the body", tok, status)
		}
		if read := cl.n.Load() - before; read > 64<<10 {
			t.Fatalf("the server read %d bytes", read)
		}
	}
	if len(b.ops) != 0 || len(b.observed) != 0 {
		t.Fatalf("reached the backend: %v %v", b.ops, b.observed)
	}
}

// TestOversizedBodyIsRefusedUpFront: an authenticated request whose
// Content-Length is over the limit is answered 413 without waiting for
// its body.
func TestOversizedBodyIsRefusedUpFront(t *testing.T) {
	srv, _ := newServer(t)
	addr, cl := startCounting(t, srv.Config.Handler)
	status := stalledRequest(t, addr, rpcHead(addr, mint(t, nil, ""), 1<<20+1), `{"op":"void"`, 10*time.Second)
	if status != 413 {
		t.Fatalf("status %d", status)
	}
	if cl.n.Load() > 64<<10 {
		t.Fatalf("read %d bytes", cl.n.Load())
	}
}

// TestSlowBodyGetsTimeout: with a read deadline set by the server around
// the handler, a body that stops arriving is answered 408, not waited for.
func TestSlowBodyGetsTimeout(t *testing.T) {
	srv, _ := newServer(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		srv.Config.Handler.ServeHTTP(w, r)
	})
	addr, _ := startCounting(t, h)
	if status := stalledRequest(t, addr, rpcHead(addr, mint(t, nil, ""), 100), `{"op":`, 10*time.Second); status != 408 {
		t.Fatalf("status %d", status)
	}
}

// TestCookieCredentialIsSameOriginOnly: a token that a browser attaches
// by itself (the cookie) only works on same-origin JSON requests; the
// Authorization header and the query are not restricted.
func TestCookieCredentialIsSameOriginOnly(t *testing.T) {
	srv, b := newServer(t)
	tok := mint(t, []string{token.ScopeSandboxUse}, "")
	rpc := srv.URL + "/api/nimbus/v1/sandboxes/box/rpc"
	self := srv.URL
	cookie := token.CookieName + "=" + tok
	refused := `{"ok":false,"error":"Cross-site request refused: a token from a cookie is only accepted on same-origin application/json requests; send it in the Authorization header","code":"E_CROSS_SITE_REFUSED"}`
	cases := []struct {
		name   string
		hdr    []string
		status int
	}{
		{"form post from another site", []string{"Cookie", cookie, "Content-Type", "text/plain", "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"}, 403},
		{"text/plain from the same origin", []string{"Cookie", cookie, "Content-Type", "text/plain", "Origin", self, "Sec-Fetch-Site", "same-origin"}, 403},
		{"no content type", []string{"Cookie", cookie}, 403},
		{"json with a foreign origin", []string{"Cookie", cookie, "Content-Type", "application/json", "Origin", "http://evil.example"}, 403},
		{"json from a sibling site", []string{"Cookie", cookie, "Content-Type", "application/json", "Sec-Fetch-Site", "same-site"}, 403},
		{"null origin", []string{"Cookie", cookie, "Content-Type", "application/json", "Origin", "null"}, 403},
		{"same-origin json", []string{"Cookie", cookie, "Content-Type", "application/json; charset=utf-8", "Origin", self, "Sec-Fetch-Site", "same-origin"}, 200},
		{"non-browser json", []string{"Cookie", cookie, "Content-Type", "application/json"}, 200},
		{"bearer from another site", []string{"Authorization", "Bearer " + tok, "Cookie", cookie, "Content-Type", "text/plain", "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"}, 200},
	}
	for _, c := range cases {
		resp, body := do(t, "POST", rpc, "", `{"op":"void"}`, c.hdr...)
		if resp.StatusCode != c.status || c.status == 403 && body != refused {
			t.Errorf("%s: %d %s", c.name, resp.StatusCode, body)
		}
	}
	resp, body := do(t, "POST", rpc+"?nimbus_token="+tok, "", `{"op":"void"}`, "Content-Type", "text/plain", "Origin", "http://evil.example")
	if resp.StatusCode != 200 {
		t.Errorf("query token: %d %s", resp.StatusCode, body)
	}
	// Destroy through the cookie is held to the same rule.
	admin := mint(t, []string{token.ScopeSandboxUse, token.ScopeSessionAdmin}, "")
	resp, body = do(t, "DELETE", srv.URL+"/s/box/", "", "", "Cookie", token.CookieName+"="+admin, "Origin", "http://evil.example")
	if resp.StatusCode != 403 || body != refused {
		t.Errorf("destroy: %d %s", resp.StatusCode, body)
	}
	if len(b.destroyed) != 0 || len(b.ops) != 4 {
		t.Fatalf("destroyed %v ops %v", b.destroyed, b.ops)
	}
}
