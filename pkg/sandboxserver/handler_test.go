package sandboxserver_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

const secret = "test-secret-0123456789abcdef0123456789"

var now = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// echoBackend answers each op with its call, records what reached it and
// streams "hi" for execStream.
type echoBackend struct {
	ops       []string
	destroyed []string
	observed  []string
	refuse    string
	released  int
}

func (b *echoBackend) Op(_ context.Context, c *sandboxserver.Call) (any, bool, *sandboxserver.Error) {
	b.ops = append(b.ops, c.Op)
	switch c.Op {
	case "void":
		return nil, false, nil
	case "bytes":
		return map[string]any{"data": []byte("hi"), "list": []any{[]byte{0xff}}}, true, nil
	case "html":
		return "<a&b>", true, nil
	case "big":
		return strings.Repeat("0123456789abcdef", 256), true, nil
	case "num":
		f, err := c.Num(0, "n")
		return f, err == nil, err
	case "echo":
		return map[string]any{"do": c.DO, "root": c.Root, "profile": c.ProfileName, "args": c.Args}, true, nil
	}
	return nil, false, sandboxserver.UnknownOp(c.Op)
}

func (b *echoBackend) Destroy(r *http.Request, c *sandboxserver.Call, reason string) (any, *sandboxserver.Error) {
	b.destroyed = append(b.destroyed, c.DO)
	return sandboxserver.DestroyResult(0, now, reason), nil
}

func (b *echoBackend) ExecStream(w http.ResponseWriter, r *http.Request, c *sandboxserver.Call) bool {
	sandboxserver.StartStream(w)
	fw := sandboxserver.NewFrameWriter(w, nil)
	_ = fw.Frame(sandboxserver.FrameStdout, []byte("hi"))
	_ = fw.Frame(sandboxserver.FrameExit, sandboxserver.ExitPayload("x", 0, now, now))
	return true
}

func (b *echoBackend) Decoded(r *http.Request, c *sandboxserver.Call) {
	b.observed = append(b.observed, c.Op)
}

func (b *echoBackend) Admit(r *http.Request, c *sandboxserver.Call) (func(), *sandboxserver.Error) {
	if c.Op == b.refuse {
		return nil, sandboxserver.NewError(503, sandboxserver.CodeOverloaded, "Durable Object is overloaded.")
	}
	return func() { b.released++ }, nil
}

func newServer(t *testing.T) (*httptest.Server, *echoBackend) {
	t.Helper()
	b := &echoBackend{}
	h := &sandboxserver.Handler{
		BasePath:       sandboxserver.NormalizeBasePath(""),
		Auth:           sandboxserver.TokenAuth{Secret: secret, Now: func() time.Time { return now }},
		RequiredScopes: []string{token.ScopeSandboxUse},
		Profiles:       map[string]sandboxserver.Profile{"default": {Root: "/work"}},
		Backend:        b,
		MaxBody:        1 << 20,
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, b
}

func mint(t *testing.T, scopes []string, sid string) string {
	t.Helper()
	in := token.Input{Tenant: new("acme"), Subject: new("alice"), Scopes: scopes}
	if sid != "" {
		in.SessionID = new(sid)
	}
	tok, err := token.Issuer{Secret: secret, Now: func() time.Time { return now }}.Mint(in)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func do(t *testing.T, method, url, tok, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestCheckOrder sends requests that are wrong in several ways at once:
// the first check in the order method, id, auth, body, op answers.
func TestCheckOrder(t *testing.T) {
	srv, b := newServer(t)
	use := mint(t, []string{token.ScopeSandboxUse}, "")
	rpc := func(id string) string { return srv.URL + "/api/nimbus/v1/sandboxes/" + id + "/rpc" }
	cases := []struct {
		name, method, url, tok, body string
		status                       int
		want                         string
	}{
		{"method before id", "GET", rpc("bad%20id"), "", "nope", 405, `{"ok":false,"error":"Method not allowed","code":"E_METHOD_NOT_ALLOWED"}`},
		{"id before body", "POST", rpc("bad%20id"), "", "nope", 400, `{"ok":false,"error":"Invalid sandbox id","code":"E_SANDBOX_ID"}`},
		{"id too long", "POST", rpc(strings.Repeat("a", 129)), use, `{"op":"void"}`, 400, `{"ok":false,"error":"Invalid sandbox id","code":"E_SANDBOX_ID"}`},
		{"auth before body", "POST", rpc("box"), "", "[1]", 401, `"code":"E_TOKEN_MALFORMED"`},
		{"body", "POST", rpc("box"), use, "[1]", 400, `{"ok":false,"error":"Invalid JSON body: body must be a JSON object","code":"E_BAD_JSON"}`},
		{"trailing data", "POST", rpc("box"), use, `{} {}`, 400, `{"ok":false,"error":"Invalid JSON body: unexpected data after the JSON value","code":"E_BAD_JSON"}`},
		{"too large", "POST", rpc("box"), use, `{"op":"` + strings.Repeat("x", 1<<20) + `"}`, 413, `{"ok":false,"error":"Invalid JSON body: larger than 1 MiB, the most one request may carry (write bigger files in parts, as nimbus sandbox cp does)","code":"E_BAD_JSON"}`},
		{"auth before op", "POST", rpc("box"), "", `{"op":"nope"}`, 401, ""},
		{"bad token before body", "POST", rpc("box"), "x.y.z", `{"op":`, 401, `"code":"E_TOKEN_MALFORMED"`},
		{"scope", "POST", rpc("box"), mint(t, []string{"session:create"}, ""), `{"op":"void"}`, 403, `"code":"E_SCOPE_MISSING"`},
		{"pin", "POST", rpc("box"), mint(t, []string{token.ScopeSandboxUse}, "other"), `{"op":"void"}`, 403, `"code":"E_SESSION_PIN_MISMATCH"`},
		{"op", "POST", rpc("box"), use, `{"op":"nope"}`, 400, `{"ok":false,"error":"Unknown Nimbus sandbox operation: nope","code":"E_REMOTE_OP"}`},
		{"void", "POST", rpc("box"), use, `{"op":"void"}`, 200, `{"ok":true}`},
		{"not rpc", "POST", srv.URL + "/api/nimbus/v1/sandboxes/a/b/rpc", use, `{"op":"void"}`, 404, "404 page not found\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := do(t, c.method, c.url, c.tok, c.body)
			if resp.StatusCode != c.status || !strings.Contains(body, c.want) {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, body, c.status, c.want)
			}
			if c.status != 404 && resp.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("Cache-Control %q", resp.Header.Get("Cache-Control"))
			}
		})
	}
	if strings.Join(b.ops, ",") != "nope,void" {
		t.Fatalf("ops that reached the backend: %v", b.ops)
	}
	if b.released != 2 {
		t.Fatalf("released %d times", b.released)
	}
}

func TestPreflightAndEnvelope(t *testing.T) {
	srv, _ := newServer(t)
	use := mint(t, nil, "box")
	rpc := srv.URL + "/api/nimbus/v1/sandboxes/box/rpc"
	resp, body := do(t, "OPTIONS", rpc, "", "")
	if resp.StatusCode != 204 || body != "" || resp.Header.Get("Access-Control-Allow-Headers") != "Authorization, Content-Type" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("preflight %d %q %v", resp.StatusCode, body, resp.Header)
	}
	for req, want := range map[string]string{
		`{"op":"bytes"}`: `{"ok":true,"result":{"data":{"__nimbusWireType":"bytes","base64":"aGk="},"list":[{"__nimbusWireType":"bytes","base64":"/w=="}]}}`,
		`{"op":"html"}`:  `{"ok":true,"result":"<a&b>"}`,
		`{"op":"echo","args":[{"__nimbusWireType":"bytes","base64":"aGk="},{"__nimbusWireType":"bytes","base64":"aGk=","x":1}],"profile":"p"}`: `{"ok":true,"result":{"args":[{"__nimbusWireType":"bytes","base64":"aGk="},{"__nimbusWireType":"bytes","base64":"aGk="}],"do":"acme:alice:box","profile":"p","root":"/work"}}`,
		`{"op":"echo","root":"/r"}`:  `{"ok":true,"result":{"args":null,"do":"acme:alice:box","profile":"default","root":"/r"}}`,
		`{"op":"num","args":[null]}`: `{"ok":true,"result":0}`,
	} {
		resp, body := do(t, "POST", rpc, use, req)
		if resp.StatusCode != 200 || body != want || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s, want %s", req, resp.StatusCode, body, want)
		}
	}
	resp, body = do(t, "POST", rpc, use, `{"op":"void","diag":true}`)
	if resp.StatusCode != 200 || !strings.HasPrefix(body, `{"ok":true,"rpcMs":`) {
		t.Fatalf("diag: %s", body)
	}
}

func TestOverloadRetryAfter(t *testing.T) {
	srv, b := newServer(t)
	b.refuse = "void"
	resp, body := do(t, "POST", srv.URL+"/api/nimbus/v1/sandboxes/box/rpc", mint(t, nil, ""), `{"op":"void"}`)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "5" || resp.Header.Get("Access-Control-Expose-Headers") != "Retry-After" || body != `{"ok":false,"error":"Durable Object is overloaded.","code":"E_NIMBUS_DO_OVERLOADED"}` {
		t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, body)
	}
	if len(b.ops) != 0 || strings.Join(b.observed, ",") != "void" {
		t.Fatalf("ops %v observed %v", b.ops, b.observed)
	}
}

func TestDestroy(t *testing.T) {
	srv, b := newServer(t)
	use := mint(t, []string{token.ScopeSandboxUse}, "")
	admin := mint(t, []string{token.ScopeSandboxUse, token.ScopeSessionAdmin}, "")
	resp, body := do(t, "DELETE", srv.URL+"/s/box/", use, "")
	if resp.StatusCode != 403 || body != `{"ok":false,"error":"Nimbus token missing required scope: session:destroy or session:admin","code":"E_SCOPE_MISSING"}` {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	resp, body = do(t, "DELETE", srv.URL+"/s/box", admin, "", "X-Nimbus-Cleanup-Reason", "  done  ")
	if resp.StatusCode != 200 || body != `{"ok":true,"result":{"destroyedAt":1793534400000,"killed":0,"ok":true,"reason":"done"}}` {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	resp, body = do(t, "POST", srv.URL+"/api/nimbus/v1/sandboxes/box/rpc", admin, `{"op":"destroy","args":[{"reason":"`+strings.Repeat("r", 300)+`"}]}`)
	if resp.StatusCode != 200 || !strings.Contains(body, `"reason":"`+strings.Repeat("r", 200)+`"}`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	resp, _ = do(t, "DELETE", srv.URL+"/s/box/port/80/", admin, "")
	if resp.StatusCode != 404 {
		t.Fatalf("DELETE below /s/<id>/ reached destroy: %d", resp.StatusCode)
	}
	if strings.Join(b.destroyed, ",") != "acme:_:box,acme:_:box" && strings.Join(b.destroyed, ",") != "acme:alice:box,acme:alice:box" {
		t.Fatalf("destroyed %v", b.destroyed)
	}
	if len(b.ops) != 0 {
		t.Fatalf("destroy reached Op: %v", b.ops)
	}
}

func TestNoSecret(t *testing.T) {
	h := &sandboxserver.Handler{BasePath: "/x", Auth: sandboxserver.TokenAuth{}, Backend: &echoBackend{}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, body := do(t, "POST", srv.URL+"/x/sandboxes/box/rpc", "", `{"op":"void"}`)
	if resp.StatusCode != 500 || body != `{"ok":false,"error":"Remote Nimbus sandbox API requires JWT_SECRET","code":"E_AUTH_CONFIG_MISSING"}` {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func TestStream(t *testing.T) {
	srv, _ := newServer(t)
	resp, body := do(t, "POST", srv.URL+"/api/nimbus/v1/sandboxes/box/rpc", mint(t, nil, ""), `{"op":"execStream","args":["x"]}`)
	exit := `{"command":"x","duration":0,"exitCode":0,"success":true,"timestamp":1793534400000}`
	want := "\x01\x00\x00\x00\x02hi\x03\x00\x00\x00" + string(rune(len(exit))) + exit
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != sandboxserver.StreamContentType || body != want {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}

func TestNormalizeBasePath(t *testing.T) {
	for in, want := range map[string]string{"": "/api/nimbus/v1", "/": "/api/nimbus/v1", " a/b/ ": "/a/b", "/x": "/x"} {
		if got := sandboxserver.NormalizeBasePath(in); got != want {
			t.Errorf("%q: %q", in, got)
		}
	}
}

// TestAnswersCarryTheirLength: answers of any size go with Content-Length,
// never chunked (net/http would chunk one larger than its 2 KiB buffer),
// small ones as large ones, successes as failures.
func TestAnswersCarryTheirLength(t *testing.T) {
	srv, _ := newServer(t)
	tok := mint(t, []string{token.ScopeSandboxUse}, "")
	url := srv.URL + "/api/nimbus/v1/sandboxes/box/rpc"
	for _, op := range []string{"big", "html", "void", "nope"} {
		resp, body := do(t, "POST", url, tok, `{"op":"`+op+`"}`)
		if resp.ContentLength != int64(len(body)) || len(resp.TransferEncoding) != 0 {
			t.Errorf("%s: Content-Length %d, Transfer-Encoding %v, body of %d bytes", op, resp.ContentLength, resp.TransferEncoding, len(body))
		}
		if op == "big" && (resp.StatusCode != 200 || len(body) < 4096) {
			t.Errorf("big: %d, %d bytes", resp.StatusCode, len(body))
		}
	}
}
