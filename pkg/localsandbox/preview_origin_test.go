//go:build unix

package localsandbox_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// previewApp serves "app" (and a WebSocket greeting) on a loopback port
// exposed by sandbox id, recording the Referer of each request; it
// returns the preview door of the port.
func previewApp(t *testing.T, base, tok, id string) (door string, referers func() []string) {
	t.Helper()
	var mu sync.Mutex
	var refs []string
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		refs = append(refs, r.Header.Get("Referer"))
		mu.Unlock()
		if r.Header.Get("Upgrade") == "websocket" {
			c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
			if err == nil {
				_ = c.Write(r.Context(), websocket.MessageText, []byte("app data"))
				_ = c.Close(websocket.StatusNormalClosure, "")
			}
			return
		}
		_, _ = io.WriteString(w, "app")
	}))
	t.Cleanup(app.Close)
	u, _ := url.Parse(app.URL)
	n, _ := strconv.Atoi(u.Port())
	if e := call(t, base, tok, id, "exposePort", n); !e.OK {
		t.Fatal(e.Error)
	}
	return base + "/s/" + id + "/port/" + u.Port() + "/", func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), refs...)
	}
}

// TestPreviewCookieIsSameOriginOnly: the preview cookie is the same site
// for every page served from this machine (ports do not make sites), so
// SameSite=Strict alone let a page of another local server read a preview
// through a WebSocket or post to it with the developer's cookie. It is
// now accepted from this origin and on top-level GET navigations only;
// header and query tokens are not ambient and stay unrestricted.
//
// The path door takes its cookie only under a name that is not loopback
// (--allow-host): under a loopback name previews have hosts of their own
// (TestPreviewOfOneSandboxCannotReachAnother).
func TestPreviewCookieIsSameOriginOnly(t *testing.T) {
	_, hs := newServer(t)
	full := mint(t, "", token.ScopeSandboxUse, token.ScopeSessionAttach)
	door, _ := previewApp(t, hs.URL, full, "pv")
	self := named(hs, "dev.example")
	door = self + strings.TrimPrefix(door, hs.URL)
	c := browser(t, hs)
	attach := mint(t, "pv", token.ScopeSessionAttach)
	cookie := localsandbox.PreviewCookie + "=" + attach
	other := "http://localhost:3000"
	cases := []struct {
		name, method string
		hdr          []string
		status       int
	}{
		{"fetch from another local origin", "GET", []string{"Cookie", cookie, "Origin", other, "Sec-Fetch-Site", "same-site", "Sec-Fetch-Mode", "cors"}, 403},
		{"form post from another local origin", "POST", []string{"Cookie", cookie, "Origin", other, "Sec-Fetch-Site", "same-site", "Sec-Fetch-Mode", "navigate", "Content-Type", "text/plain"}, 403},
		{"image from another local origin", "GET", []string{"Cookie", cookie, "Sec-Fetch-Site", "same-site", "Sec-Fetch-Mode", "no-cors"}, 403},
		{"foreign Origin, no fetch metadata", "POST", []string{"Cookie", cookie, "Origin", other, "Content-Type", "text/plain"}, 403},
		{"null Origin", "POST", []string{"Cookie", cookie, "Origin", "null"}, 403},
		{"same-origin fetch", "POST", []string{"Cookie", cookie, "Origin", self, "Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors"}, 200},
		{"own Origin, no fetch metadata", "POST", []string{"Cookie", cookie, "Origin", self}, 200},
		{"link followed from a local page", "GET", []string{"Cookie", cookie, "Sec-Fetch-Site", "same-site", "Sec-Fetch-Mode", "navigate"}, 200},
		{"address typed", "GET", []string{"Cookie", cookie, "Sec-Fetch-Site", "none", "Sec-Fetch-Mode", "navigate"}, 200},
		{"not a browser", "GET", []string{"Cookie", cookie}, 200},
		{"header token from anywhere", "POST", []string{"Authorization", "Bearer " + attach, "Cookie", cookie, "Origin", other, "Sec-Fetch-Site", "cross-site"}, 200},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, door+"x", strings.NewReader("x"))
		for i := 0; i < len(tc.hdr); i += 2 {
			req.Header.Set(tc.hdr[i], tc.hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || tc.status == 403 && !strings.Contains(string(b), `"code":"E_CROSS_SITE_REFUSED"`) || tc.status == 200 && string(b) != "app" {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, b)
		}
	}
	// A WebSocket opened by another local page with the cookie.
	wsURL := "ws" + strings.TrimPrefix(door, "http") + "ws"
	dial := func(origin, site string) error {
		h := http.Header{"Cookie": {cookie}, "Origin": {origin}, "Sec-Fetch-Site": {site}, "Sec-Fetch-Mode": {"websocket"}}
		ws, _, err := websocket.Dial(context.Background(), wsURL, &websocket.DialOptions{HTTPClient: c, HTTPHeader: h})
		if err != nil {
			return err
		}
		defer ws.CloseNow()
		_, msg, err := ws.Read(context.Background())
		if err == nil && string(msg) != "app data" {
			t.Errorf("app said %q", msg)
		}
		return err
	}
	if err := dial(other, "same-site"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("WebSocket from %s: %v", other, err)
	}
	if err := dial(self, "same-origin"); err != nil {
		t.Errorf("WebSocket from the page itself: %v", err)
	}
}

// TestPreviewLinkTokenLeavesTheURL: a browser that opens a preview link
// with ?nimbus_token= gets the cookie and a redirect to the same URL
// without the token (other parameters kept, in order), and the app never
// sees the token in a Referer; a client that is not navigating, or a link
// followed from another site, gets the page at once, as before.
//
// Under a name that is not loopback (--allow-host); under a loopback one a
// browser is sent on to the preview host, which does the same
// (TestPathDoorSendsBrowsersToThePreviewHost, TestPreviewHost).
func TestPreviewLinkTokenLeavesTheURL(t *testing.T) {
	_, hs := newServer(t)
	full := mint(t, "", token.ScopeSandboxUse, token.ScopeSessionAttach, token.ScopeSessionDestroy)
	door, referers := previewApp(t, hs.URL, full, "pv")
	remote := named(hs, "dev.example")
	door = remote + strings.TrimPrefix(door, hs.URL)
	noFollow := browser(t, hs)
	req, _ := http.NewRequest("GET", door+"a%2Fb/page?z=1&nimbus_token="+full+"&a=2", nil)
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.Header.Set("Sec-Fetch-Site", "none")
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	doorPath := strings.TrimPrefix(door, remote)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != doorPath+"a%2Fb/page?z=1&a=2" || len(resp.Cookies()) != 1 {
		t.Fatalf("navigation: %d Location %q cookies %v", resp.StatusCode, resp.Header.Get("Location"), resp.Header.Values("Set-Cookie"))
	}
	// Not a navigation (a script, curl), or a link followed from another
	// site (the redirect would not carry the Strict cookie): served at
	// once.
	for _, site := range []string{"", "cross-site"} {
		req, _ = http.NewRequest("GET", door+"?nimbus_token="+full, nil)
		if site != "" {
			req.Header.Set("Sec-Fetch-Mode", "navigate")
			req.Header.Set("Sec-Fetch-Site", site)
		}
		resp, err = noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "app" {
			t.Fatalf("Sec-Fetch-Site %q: %d %s", site, resp.StatusCode, b)
		}
	}
	// A resource of a page opened with the token names it in its Referer.
	req, _ = http.NewRequest("GET", door+"style.css", nil)
	req.Header.Set("Authorization", "Bearer "+full)
	req.Header.Set("Referer", door+"?a=1&nimbus_token="+full+"&b=2")
	resp, err = noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	refs := referers()
	if len(refs) != 3 || refs[2] != door+"?a=1&b=2" {
		t.Fatalf("the app saw Referers %q", refs)
	}
	for _, r := range refs {
		if strings.Contains(r, full) {
			t.Fatalf("the app saw the token: %q", r)
		}
	}
}
