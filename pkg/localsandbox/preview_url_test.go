//go:build unix

package localsandbox_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// The session route /s/<id>/api/preview-url answers, after the
// session:attach check, through the client's PreviewURL, as a Worker whose
// preview host suffix is localhost when the request came to a loopback
// name: the preview host on the port asked, with a single-use
// session:preview token of 90 s pinned to the sandbox. Under other names,
// and for ids that are not host-safe, it answers as a Worker without a
// suffix (TestPathDoorSendsBrowsersToThePreviewHost).
func TestPreviewURLRoute(t *testing.T) {
	_, hs := newServer(t)
	sb := box(t, hs.URL, "job-1", token.ScopeSessionAttach)
	link, err := sb.PreviewURL(ctx(t), 3000)
	if err != nil || link.URL == nil || link.Reason != "" {
		t.Fatalf("%+v %v", link, err)
	}
	hu, _ := url.Parse(hs.URL)
	prefix := "http://3000--job-1.localhost:" + hu.Port() + "/?nimbus_token="
	tok, ok := strings.CutPrefix(*link.URL, prefix)
	if !ok {
		t.Fatalf("url %s, want %s…", *link.URL, prefix)
	}
	v, err := token.Verifier{Secret: secret}.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	scopes, _ := v.Claims.Scopes()
	sid, _ := v.Claims.SessionID()
	jti, _ := v.Claims.JTI()
	if strings.Join(scopes, ",") != token.ScopeSessionPreview || sid != "job-1" || !strings.HasPrefix(jti, "3000--") || len(jti) <= len("3000--") || v.Claims.ExpiresAt()-v.Claims.IssuedAt() != 90 || v.DOInstanceName != "acme:alice" {
		t.Fatalf("token %v %q %q exp-iat %v %s", scopes, sid, jti, v.Claims.ExpiresAt()-v.Claims.IssuedAt(), v.DOInstanceName)
	}
	if again, _ := sb.PreviewURL(ctx(t), 3000); again == nil || again.URL == nil || *again.URL == *link.URL {
		t.Fatalf("the same token twice: %v", again)
	}
	for _, c := range []struct {
		sb     *sc.Sandbox
		status int
		code   string
	}{
		{box(t, hs.URL, "job-1", token.ScopeSandboxUse), 403, "E_SCOPE_MISSING"},
		{otherPin(t, hs.URL), 403, "E_SESSION_PIN_MISMATCH"},
	} {
		_, err := c.sb.PreviewURL(ctx(t), 3000)
		var re *sc.RemoteError
		if !asRemote(err, &re) || re.Status != c.status || re.Code != c.code {
			t.Errorf("%s: %v", c.code, err)
		}
	}
	get := func(q, tok string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, hs.URL+"/s/job-1/api/preview-url"+q, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	attach := mint(t, "job-1", token.ScopeSessionAttach)
	for _, q := range []string{"", "?port=0", "?port=65536", "?port=-1", "?port=abc", "?port=+80"} {
		if st, body := get(q, attach); st != 400 || body != `{"error":"Invalid port"}` {
			t.Errorf("%q: %d %s", q, st, body)
		}
	}
	// Authentication comes before the port check.
	if st, body := get("?port=0", ""); st != 401 || !strings.Contains(body, "E_TOKEN_MALFORMED") {
		t.Errorf("no token: %d %s", st, body)
	}
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/s/job-1/api/preview-url?port=1", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %v %v", resp, err)
	}
	if _, err := sb.PreviewURL(ctx(t), 0); !sc.HasCode(err, sc.CodeInvalidArgument) {
		t.Errorf("port 0 checked locally: %v", err)
	}
}

func otherPin(t *testing.T, url string) *sc.Sandbox {
	c, err := sc.New(sc.Options{Endpoint: url, Tokens: sc.StaticToken(mint(t, "job-2", token.ScopeSessionAttach))})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.Sandbox("job-1", sc.SandboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sb
}

func asRemote(err error, re **sc.RemoteError) bool { return errors.As(err, re) }

// The preview door passes the path (encoded slashes included), the query
// (order and encoding) and the Host as the client sent them, as a Worker
// does; only the token is taken out.
func TestPortProxyKeepsPathQueryAndHost(t *testing.T) {
	_, hs := newServer(t)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Host+" "+r.URL.RequestURI())
	}))
	defer app.Close()
	u, _ := url.Parse(app.URL)
	n, _ := strconv.Atoi(u.Port())
	if _, err := box(t, hs.URL, "job-1").ExposePort(ctx(t), n, sc.ExposeOptions{}); err != nil {
		t.Fatal(err)
	}
	hu, _ := url.Parse(hs.URL)
	attach := mint(t, "job-1", token.ScopeSessionAttach)
	for in, want := range map[string]string{
		"a%2Fb/c?z=1&a=%41":                     hu.Host + " /a%2Fb/c?z=1&a=%41",
		"x?nimbus_token=" + attach + "&b=2&a=1": hu.Host + " /x?a=1&b=2",
	} {
		req, _ := http.NewRequest(http.MethodGet, hs.URL+"/s/job-1/port/"+u.Port()+"/"+in, nil)
		req.Header.Set("Authorization", "Bearer "+attach)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want {
			t.Errorf("%s: app saw %q, want %q", in, b, want)
		}
	}
}
