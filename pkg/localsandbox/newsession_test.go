//go:build unix

package localsandbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/token"
)

// /new creates a browser session as a Worker does (sandbox-api.md §1.9):
// a 302 to /s/<friendly id>/ with a single-use, sid-pinned
// session:bootstrap token valid 90 s; refusals are JSON without "ok".
func TestNewSession(t *testing.T) {
	_, hs := newServer(t)
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, tok string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, hs.URL+"/new", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		resp, _ := do(method, mint(t, "", token.ScopeSessionCreate))
		loc := resp.Header.Get("Location")
		m := regexp.MustCompile(`^/s/([a-z]+-[a-z]+-[0-9]{4})/\?nimbus_token=([A-Za-z0-9_.-]+)$`).FindStringSubmatch(loc)
		if resp.StatusCode != 302 || m == nil || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: %d %q", method, resp.StatusCode, loc)
		}
		boot, _ := url.QueryUnescape(m[2])
		v, err := token.Verifier{Secret: secret}.Verify(boot)
		if err != nil {
			t.Fatal(err)
		}
		sid, _ := v.Claims.SessionID()
		scopes, _ := v.Claims.Scopes()
		jti, hasJTI := v.Claims.JTI()
		iat := v.Claims.IssuedAt()
		exp := v.Claims.ExpiresAt()
		if sid != m[1] || len(scopes) != 1 || scopes[0] != token.ScopeSessionBootstrap || !hasJTI || jti == "" || exp-iat != 90 || v.DOInstanceName != "acme:alice" {
			t.Fatalf("bootstrap claims: sid %q scopes %v jti %q ttl %v DO %q", sid, scopes, jti, exp-iat, v.DOInstanceName)
		}
	}
	resp, body := do(http.MethodPost, "")
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Bearer realm="nimbus"` || strings.Contains(body, `"ok"`) || !strings.Contains(body, `"code":"E_TOKEN_MALFORMED"`) {
		t.Fatalf("no token: %d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
	resp, body = do(http.MethodPost, mint(t, "", token.ScopeSandboxUse))
	var e map[string]string
	if resp.StatusCode != 403 || json.Unmarshal([]byte(body), &e) != nil || e["code"] != "E_SCOPE_MISSING" || e["error"] == "" {
		t.Fatalf("without session:create: %d %s", resp.StatusCode, body)
	}
	if resp, _ = do(http.MethodPut, mint(t, "", token.ScopeSessionCreate)); resp.StatusCode != 405 {
		t.Fatalf("PUT: %d", resp.StatusCode)
	}
}

// TestNewSessionCookieIsSameOriginOnly: /new took a token from the
// __Host-nimbus_token cookie from any page (it authenticated without the
// cookie rule of the other routes), so another site could have the
// browser mint sessions with it.
func TestNewSessionCookieIsSameOriginOnly(t *testing.T) {
	_, hs := newServer(t)
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cookie := token.CookieName + "=" + mint(t, "", token.ScopeSessionCreate)
	for _, c := range []struct {
		name, method string
		hdr          []string
		status       int
	}{
		{"link from another site", "GET", []string{"Cookie", cookie, "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate"}, 403},
		{"form from another site", "POST", []string{"Cookie", cookie, "Origin", "http://evil.example", "Content-Type", "text/plain"}, 403},
		{"address typed", "GET", []string{"Cookie", cookie, "Sec-Fetch-Site", "none", "Sec-Fetch-Mode", "navigate"}, 302},
		{"not a browser", "GET", []string{"Cookie", cookie}, 302},
	} {
		req, _ := http.NewRequest(c.method, hs.URL+"/new", nil)
		for i := 0; i < len(c.hdr); i += 2 {
			req.Header.Set(c.hdr[i], c.hdr[i+1])
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || c.status == 403 && !strings.Contains(string(b), `"code":"E_CROSS_SITE_REFUSED"`) {
			t.Errorf("%s: %d %s", c.name, resp.StatusCode, b)
		}
	}
}
