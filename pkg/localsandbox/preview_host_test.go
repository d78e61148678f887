//go:build unix

package localsandbox_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// named is hs's URL under another name, on hs's port: a preview host
// (N--id.localhost) or a name of another machine (--allow-host).
func named(hs *httptest.Server, name string) string {
	_, port, _ := net.SplitHostPort(hs.Listener.Addr().String())
	return "http://" + name + ":" + port
}

// browser is a client that reaches hs under any name, as a browser
// reaches every *.localhost name on this machine; it follows no redirect.
func browser(t *testing.T, hs *httptest.Server) *http.Client {
	addr := hs.Listener.Addr().String()
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// do sends a request with headers given as name, value pairs and returns
// the answer and its body.
func do(t *testing.T, c *http.Client, method, u string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// whoApp serves, on a loopback port that sandbox id exposes (named name
// when not ""), "app <id>" and what it was sent: Host, request URI,
// X-Forwarded-Prefix, Cookie and Authorization. It answers WebSockets
// with the same line. It returns the port.
func whoApp(t *testing.T, base, id, name string) string {
	t.Helper()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		line := "app " + id + " " + r.Host + " " + r.URL.RequestURI() + " prefix=" + r.Header.Get("X-Forwarded-Prefix") +
			" cookie=" + r.Header.Get("Cookie") + " auth=" + r.Header.Get("Authorization")
		if r.Header.Get("Upgrade") == "websocket" {
			c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
			if err == nil {
				_ = c.Write(r.Context(), websocket.MessageText, []byte(line))
				_ = c.Close(websocket.StatusNormalClosure, "")
			}
			return
		}
		_, _ = io.WriteString(w, line)
	}))
	t.Cleanup(app.Close)
	u, _ := url.Parse(app.URL)
	n, _ := strconv.Atoi(u.Port())
	opts := map[string]any{}
	if name != "" {
		opts["name"] = name
	}
	if e := call(t, base, mint(t, "", token.ScopeSandboxUse), id, "exposePort", n, opts); !e.OK {
		t.Fatal(e.Error)
	}
	return u.Port()
}

// TestPreviewOfOneSandboxCannotReachAnother: every path-style preview
// shared the API's origin, so a script of sandbox A's preview page could
// fetch /s/B/port/N/ same-origin, and the browser sent B's preview cookie
// (Path=/s/B/, SameSite=Strict) with it: one sandbox's app read and drove
// another's with the developer's credential. Previews now have hosts of
// their own (N--id.localhost), and a path door reached under a loopback
// name takes no cookie.
func TestPreviewOfOneSandboxCannotReachAnother(t *testing.T) {
	_, hs := newServer(t)
	pa, pb := whoApp(t, hs.URL, "a", ""), whoApp(t, hs.URL, "b", "")
	bCookie := localsandbox.PreviewCookie + "=" + mint(t, "b", token.ScopeSessionAttach)
	c := browser(t, hs)
	refused := func(what string, resp *http.Response, body string) {
		t.Helper()
		if resp.StatusCode != 401 && resp.StatusCode != 403 || strings.HasPrefix(body, "app b") {
			t.Errorf("%s: %d %s", what, resp.StatusCode, body)
		}
	}
	// A's page on the API's origin (as every preview was) fetches B's door.
	for _, origin := range []string{hs.URL, named(hs, "localhost")} {
		resp, body := do(t, c, "GET", origin+"/s/b/port/"+pb+"/secret", "Cookie", bCookie,
			"Origin", origin, "Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors")
		refused("same-origin fetch of B's door at "+origin, resp, body)
	}
	// A's page on its preview host fetches the same path of its own
	// origin: that is A's preview, which B's cookie does not open.
	aHost := named(hs, pa+"--a.localhost")
	resp, body := do(t, c, "GET", aHost+"/s/b/port/"+pb+"/secret", "Cookie", bCookie,
		"Origin", aHost, "Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors")
	refused("B's door path on A's preview host", resp, body)
	// …or B's preview host, whose cookie the browser keeps from other
	// sites; were it sent, the request still is not B's own.
	bHost := named(hs, pb+"--b.localhost")
	for _, site := range []string{"same-site", "cross-site"} {
		resp, body = do(t, c, "GET", bHost+"/secret", "Cookie", bCookie,
			"Origin", aHost, "Sec-Fetch-Site", site, "Sec-Fetch-Mode", "cors")
		if resp.StatusCode != 403 || !strings.Contains(body, `"code":"E_CROSS_SITE_REFUSED"`) {
			t.Errorf("fetch of B's preview host from A's (%s): %d %s", site, resp.StatusCode, body)
		}
	}
	h := http.Header{"Cookie": {bCookie}, "Origin": {aHost}, "Sec-Fetch-Site": {"same-site"}, "Sec-Fetch-Mode": {"websocket"}}
	_, wresp, err := websocket.Dial(ctx(t), "ws"+strings.TrimPrefix(bHost, "http")+"/", &websocket.DialOptions{HTTPClient: c, HTTPHeader: h})
	if err == nil || wresp == nil || wresp.StatusCode != 403 {
		t.Errorf("WebSocket to B's preview host from A's page: %v %v", err, status(wresp))
	}
	// B's own page, with its own cookie, is served.
	resp, body = do(t, c, "GET", bHost+"/x", "Cookie", bCookie, "Origin", bHost, "Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "app b ") {
		t.Errorf("B's own page: %d %s", resp.StatusCode, body)
	}
}

// TestPreviewHost: <port>--<id>.localhost and <name>--<id>.localhost are
// the sandbox's previews, as the Worker's preview hosts (sandbox-api.md
// §1.11), checked before every other route: a header token, the query
// exchange (a host-only cookie, then a 302 to the clean URL for a
// browser) and that cookie open them; the single-use token of
// /s/<id>/api/preview-url opens them once.
func TestPreviewHost(t *testing.T) {
	_, hs := newServer(t)
	port := whoApp(t, hs.URL, "job-1", "web")
	c := browser(t, hs)
	attach := mint(t, "job-1", token.ScopeSessionAttach)
	host := named(hs, port+"--job-1.localhost")
	hostName := strings.TrimPrefix(host, "http://")
	for _, u := range []string{host, named(hs, "web--job-1.localhost"), named(hs, "WEB--Job-1.Localhost.")} {
		resp, body := do(t, c, "GET", u+"/a%2Fb?x=1", "Authorization", "Bearer "+attach, "Cookie", "theme=dark")
		want := "app job-1 " + strings.TrimPrefix(u, "http://") + " /a%2Fb?x=1 prefix= cookie=theme=dark auth="
		if resp.StatusCode != 200 || body != want {
			t.Errorf("%s: %d %q, want %q", u, resp.StatusCode, body, want)
		}
	}
	// Every path is the preview's: the API is not served on a preview host.
	if resp, body := do(t, c, "POST", host+"/api/nimbus/v1/sandboxes/job-1/rpc", "Authorization", "Bearer "+attach); resp.StatusCode != 200 || !strings.HasPrefix(body, "app job-1 "+hostName+" /api/nimbus/v1/sandboxes/job-1/rpc ") {
		t.Errorf("the API path on a preview host: %d %s", resp.StatusCode, body)
	}
	// A browser's link: the cookie (this host's only), then the clean URL.
	resp, _ := do(t, c, "GET", host+"/p?nimbus_token="+attach+"&keep=1", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Site", "none")
	cks := resp.Cookies()
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/p?keep=1" || len(cks) != 1 {
		t.Fatalf("navigation: %d %q %v", resp.StatusCode, resp.Header.Get("Location"), resp.Header.Values("Set-Cookie"))
	}
	ck := cks[0]
	if ck.Name != localsandbox.PreviewCookie || ck.Path != "/" || ck.Domain != "" || strings.Contains(strings.ToLower(resp.Header.Get("Set-Cookie")), "domain") ||
		!ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.MaxAge <= 0 || ck.MaxAge > 3600 || ck.Value == attach {
		t.Fatalf("cookie %s", resp.Header.Get("Set-Cookie"))
	}
	resp, body := do(t, c, "GET", host+"/p?keep=1", "Cookie", ck.Name+"="+ck.Value+"; theme=dark", "Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors", "Origin", host)
	if resp.StatusCode != 200 || body != "app job-1 "+hostName+" /p?keep=1 prefix= cookie=theme=dark auth=" {
		t.Fatalf("with the cookie: %d %s", resp.StatusCode, body)
	}
	// A script or curl with the query token: served at once, token taken out.
	resp, body = do(t, c, "GET", host+"/q?nimbus_token="+attach)
	if resp.StatusCode != 200 || body != "app job-1 "+hostName+" /q prefix= cookie= auth=" {
		t.Fatalf("query token: %d %s", resp.StatusCode, body)
	}
	// The single-use link of preview-url opens it once.
	_, answer := do(t, c, "GET", hs.URL+"/s/job-1/api/preview-url?port="+port, "Authorization", "Bearer "+attach)
	link := previewLink(t, answer)
	if !strings.HasPrefix(link, host+"/?nimbus_token=") {
		t.Fatalf("preview-url answered %s", answer)
	}
	resp, _ = do(t, c, "GET", link, "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Site", "none")
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/" || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge != 3600 {
		t.Fatalf("single-use link: %d %q %v", resp.StatusCode, resp.Header.Get("Location"), resp.Header.Values("Set-Cookie"))
	}
	linkCookie := resp.Cookies()[0]
	if resp, body := do(t, c, "GET", link); resp.StatusCode != 401 || !strings.Contains(body, `"code":"E_BOOTSTRAP_CONSUMED"`) {
		t.Fatalf("replay: %d %s", resp.StatusCode, body)
	}
	// A reload of a page the link opened from another site (served at
	// once, the token left in the address bar) goes on with the cookie
	// the link set, to the clean URL; a cookie of another sandbox's, or
	// none, leaves the spent token refused.
	resp, _ = do(t, c, "GET", link, "Cookie", linkCookie.Name+"="+linkCookie.Value, "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Site", "none")
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/" {
		t.Fatalf("reload with the link's cookie: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body := do(t, c, "GET", link, "Cookie", linkCookie.Name+"="+mint(t, "job-2", token.ScopeSessionAttach), "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Site", "none"); resp.StatusCode != 401 || !strings.Contains(body, `"code":"E_BOOTSTRAP_CONSUMED"`) {
		t.Fatalf("reload with another sandbox's cookie: %d %s", resp.StatusCode, body)
	}
	preview := strings.TrimPrefix(link, host+"/?nimbus_token=")
	// Refusals.
	for _, c2 := range []struct {
		what, u, tok string
		status       int
		code         string
	}{
		{"no token", host + "/", "", 401, "E_TOKEN_MALFORMED"},
		{"another pin", host + "/", mint(t, "job-2", token.ScopeSessionAttach), 403, "E_SESSION_PIN_MISMATCH"},
		{"sandbox:use only", host + "/", mint(t, "job-1", token.ScopeSandboxUse), 403, "E_SCOPE_MISSING"},
		{"a single-use token in the header", host + "/", preview, 403, "E_SCOPE_MISSING"},
		{"a bootstrap token in the query", host + "/?nimbus_token=" + bootstrap(t, "job-1"), "", 403, "E_SCOPE_MISSING"},
		{"a port not exposed", named(hs, "1--job-1.localhost") + "/", attach, 404, "E_PORT_NOT_EXPOSED"},
		{"an app not named", named(hs, "api--job-1.localhost") + "/", attach, 404, "E_APP_NOT_FOUND"},
	} {
		var hdr []string
		if c2.tok != "" {
			hdr = []string{"Authorization", "Bearer " + c2.tok}
		}
		resp, body := do(t, c, "GET", c2.u, hdr...)
		if resp.StatusCode != c2.status || !strings.Contains(body, `"code":"`+c2.code+`"`) {
			t.Errorf("%s: %d %s", c2.what, resp.StatusCode, body)
		}
	}
	// Hosts that look like preview hosts but name none are never the API.
	for _, name := range []string{"0" + port + "--job-1.localhost", port + "--job_1.localhost", "0123456789abcdef01234567--" + port + "--job-1.localhost"} {
		if resp, _ := do(t, c, "POST", named(hs, name)+"/api/nimbus/v1/sandboxes/job-1/rpc", "Authorization", "Bearer "+attach); resp.StatusCode != 404 {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
	// A WebSocket through the preview host.
	ws, wresp, err := websocket.Dial(ctx(t), "ws"+strings.TrimPrefix(host, "http")+"/sock", &websocket.DialOptions{HTTPClient: c,
		HTTPHeader: http.Header{"Authorization": {"Bearer " + attach}}})
	if err != nil {
		t.Fatalf("WebSocket: %v %s", err, status(wresp))
	}
	defer ws.CloseNow()
	if _, msg, err := ws.Read(ctx(t)); err != nil || !strings.HasPrefix(string(msg), "app job-1 "+hostName+" /sock ") {
		t.Fatalf("WebSocket: %q %v", msg, err)
	}
}

// previewLink is the url of a preview-url answer, "" when null.
func previewLink(t *testing.T, answer string) string {
	t.Helper()
	var a struct {
		URL *string `json:"url"`
	}
	if err := json.Unmarshal([]byte(answer), &a); err != nil {
		t.Fatalf("%s: %v", answer, err)
	}
	if a.URL == nil {
		return ""
	}
	return *a.URL
}

// bootstrap mints the single-use token /new hands out.
func bootstrap(t *testing.T, sid string) string {
	tn, jti := "acme", "j1"
	tok, err := token.Issuer{Secret: secret}.Mint(token.Input{Tenant: &tn, SessionID: &sid, JTI: &jti, Scopes: []string{token.ScopeSessionBootstrap}})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestPathDoorSendsBrowsersToThePreviewHost: under a loopback name a
// browser navigating to a path door goes on at the preview host, the
// token along (it is exchanged there); other clients use the door with
// header or query tokens as before, and its cookie no longer opens it.
// Under another name (--allow-host), and for ids that cannot name a
// host, the door is served as before.
func TestPathDoorSendsBrowsersToThePreviewHost(t *testing.T) {
	_, hs := newServer(t)
	port := whoApp(t, hs.URL, "job-1", "")
	c := browser(t, hs)
	attach := mint(t, "job-1", token.ScopeSessionAttach)
	door := "/s/job-1/port/" + port + "/"
	for _, base := range []string{hs.URL, named(hs, "localhost")} {
		want := named(hs, port+"--job-1.localhost") + "/a%2Fb?z=1&nimbus_token=" + attach + "&a=2"
		resp, _ := do(t, c, "GET", base+door+"a%2Fb?z=1&nimbus_token="+attach+"&a=2", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Site", "none")
		if resp.StatusCode != 302 || resp.Header.Get("Location") != want || len(resp.Cookies()) != 0 {
			t.Errorf("%s: %d %q %v", base, resp.StatusCode, resp.Header.Get("Location"), resp.Header.Values("Set-Cookie"))
		}
		resp, body := do(t, c, "GET", base+door+"q?nimbus_token="+attach)
		if resp.StatusCode != 200 || !strings.HasPrefix(body, "app job-1 ") || len(resp.Cookies()) != 0 {
			t.Errorf("%s, not a navigation: %d %s %v", base, resp.StatusCode, body, resp.Header.Values("Set-Cookie"))
		}
		cookie := localsandbox.PreviewCookie + "=" + attach
		if resp, body := do(t, c, "GET", base+door+"x", "Cookie", cookie, "Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors"); resp.StatusCode != 401 {
			t.Errorf("%s, the cookie: %d %s", base, resp.StatusCode, body)
		}
		if resp, body := do(t, c, "GET", base+"/s/job-1/api/preview-url?port="+port, "Cookie", cookie, "Sec-Fetch-Site", "same-origin"); resp.StatusCode != 401 {
			t.Errorf("%s, preview-url with the cookie: %d %s", base, resp.StatusCode, body)
		}
	}
	// Another machine's name: the path door and its cookie, as before.
	remote := named(hs, "dev.example")
	resp, _ := do(t, c, "GET", remote+door+"p?nimbus_token="+attach, "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Site", "none")
	if resp.StatusCode != 302 || resp.Header.Get("Location") != door+"p" || len(resp.Cookies()) != 1 || resp.Cookies()[0].Path != "/s/job-1/" {
		t.Errorf("remote name: %d %q %v", resp.StatusCode, resp.Header.Get("Location"), resp.Header.Values("Set-Cookie"))
	}
	if _, answer := do(t, c, "GET", remote+"/s/job-1/api/preview-url?port="+port, "Authorization", "Bearer "+attach); answer != `{"url":null,"reason":"unavailable"}` {
		t.Errorf("preview-url on a remote name: %s", answer)
	}
	// An id that is no DNS label has no preview host: served at the door.
	uport := whoApp(t, hs.URL, "Job_1", "")
	uattach := mint(t, "Job_1", token.ScopeSessionAttach)
	resp, body := do(t, c, "GET", hs.URL+"/s/Job_1/port/"+uport+"/?nimbus_token="+uattach, "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Site", "none")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "app Job_1 ") {
		t.Errorf("an id that is not host-safe: %d %s", resp.StatusCode, body)
	}
	if _, answer := do(t, c, "GET", hs.URL+"/s/Job_1/api/preview-url?port="+uport, "Authorization", "Bearer "+uattach); answer != `{"url":null,"reason":"unavailable"}` {
		t.Errorf("preview-url of an id that is not host-safe: %s", answer)
	}
}

// TestPreviewLinkIsSpentOnlyWhenItReachesTheApp: a single-use link of
// preview-url opened before its app is up (the port not exposed yet,
// nothing listening on it) was spent all the same, so opening it again
// once the app answered gave E_BOOTSTRAP_CONSUMED, and its user had to
// ask preview-url for another. A request refused before it reaches the
// app now gives the link back, its refusal says so, and no cookie is
// set; once a request reaches the app the link is spent, and of
// requests racing with one link exactly one goes on.
func TestPreviewLinkIsSpentOnlyWhenItReachesTheApp(t *testing.T) {
	_, hs := newServer(t)
	c := browser(t, hs)
	attach := mint(t, "job-1", token.ScopeSessionAttach)
	p := freePort(t)
	port := strconv.Itoa(p)
	_, answer := do(t, c, "GET", hs.URL+"/s/job-1/api/preview-url?port="+port, "Authorization", "Bearer "+attach)
	link := previewLink(t, answer)
	if !strings.HasPrefix(link, named(hs, port+"--job-1.localhost")+"/?nimbus_token=") {
		t.Fatalf("preview-url answered %s", answer)
	}
	notSpent := func(what string, status int, code string, hdr ...string) {
		t.Helper()
		resp, body := do(t, c, "GET", link, hdr...)
		if resp.StatusCode != status || !strings.Contains(body, `"code":"`+code+`"`) || !strings.Contains(body, "this single-use link was not spent") ||
			len(resp.Header.Values("Set-Cookie")) != 0 {
			t.Fatalf("%s: %d %s %v", what, resp.StatusCode, body, resp.Header.Values("Set-Cookie"))
		}
	}
	navigation := []string{"Sec-Fetch-Mode", "navigate", "Sec-Fetch-Site", "none"}
	fromAnotherSite := []string{"Sec-Fetch-Mode", "navigate", "Sec-Fetch-Site", "cross-site"}
	notSpent("not exposed yet", 404, "E_PORT_NOT_EXPOSED")
	notSpent("not exposed yet, a navigation", 404, "E_PORT_NOT_EXPOSED", navigation...)
	if e := call(t, hs.URL, mint(t, "", token.ScopeSandboxUse), "job-1", "exposePort", p, map[string]any{}); !e.OK {
		t.Fatal(e.Error)
	}
	notSpent("nothing listening yet", 502, "E_PORT_UNREACHABLE")
	notSpent("nothing listening yet, a link from another site", 502, "E_PORT_UNREACHABLE", fromAnotherSite...)

	// The app comes up on the port: of requests racing with the link,
	// one reaches it and the others find the link taken.
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		t.Fatal(err)
	}
	app := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "app up")
	})}}
	app.Start()
	t.Cleanup(app.Close)
	const racers = 8
	type result struct {
		status int
		body   string
		err    error
	}
	start, results := make(chan struct{}), make(chan result, racers)
	for range racers {
		go func() {
			<-start
			resp, err := c.Get(link)
			if err != nil {
				results <- result{err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			results <- result{resp.StatusCode, string(b), err}
		}()
	}
	close(start)
	served := 0
	for range racers {
		r := <-results
		switch {
		case r.err != nil:
			t.Errorf("racer: %v", r.err)
		case r.status == 200 && r.body == "app up":
			served++
		case r.status != 401 || !strings.Contains(r.body, `"code":"E_BOOTSTRAP_CONSUMED"`):
			t.Errorf("racer: %d %s", r.status, r.body)
		}
	}
	if served != 1 {
		t.Fatalf("%d of %d racing requests went on with one single-use link", served, racers)
	}
	if resp, body := do(t, c, "GET", link, navigation...); resp.StatusCode != 401 || !strings.Contains(body, `"code":"E_BOOTSTRAP_CONSUMED"`) {
		t.Fatalf("replay once the app answered: %d %s", resp.StatusCode, body)
	}
}

// TestPreviewLinkOpensOnlyItsPort: the single-use link preview-url mints
// for one port opened every preview host of its sandbox (another port's,
// a named app's), as its token named only the sandbox. It now opens the
// port it was asked for: elsewhere it is refused (403
// E_PREVIEW_LINK_MISMATCH, with the request that gives a link to that
// port), before the app and without being spent.
func TestPreviewLinkOpensOnlyItsPort(t *testing.T) {
	_, hs := newServer(t)
	portA, portB := whoApp(t, hs.URL, "job-1", "web"), whoApp(t, hs.URL, "job-1", "")
	c := browser(t, hs)
	attach := mint(t, "job-1", token.ScopeSessionAttach)
	_, answer := do(t, c, "GET", hs.URL+"/s/job-1/api/preview-url?port="+portA, "Authorization", "Bearer "+attach)
	hostA := named(hs, portA+"--job-1.localhost")
	tok, ok := strings.CutPrefix(previewLink(t, answer), hostA+"/?nimbus_token=")
	if !ok {
		t.Fatalf("preview-url answered %s", answer)
	}
	for _, c2 := range []struct{ what, host, hint string }{
		{"another port's host", named(hs, portB+"--job-1.localhost"), "/s/job-1/api/preview-url?port=" + portB},
		{"the host of the app on the same port", named(hs, "web--job-1.localhost"), "app 'web'"},
	} {
		for _, hdr := range [][]string{nil, {"Sec-Fetch-Mode", "navigate", "Sec-Fetch-Site", "none"}} {
			resp, body := do(t, c, "GET", c2.host+"/?nimbus_token="+tok, hdr...)
			if resp.StatusCode != 403 || !strings.Contains(body, `"code":"E_PREVIEW_LINK_MISMATCH"`) || !strings.Contains(body, c2.hint) ||
				len(resp.Header.Values("Set-Cookie")) != 0 {
				t.Errorf("%s %v: %d %s %v", c2.what, hdr, resp.StatusCode, body, resp.Header.Values("Set-Cookie"))
			}
		}
	}
	// The refusals did not spend it: it opens its own port once.
	if resp, body := do(t, c, "GET", hostA+"/?nimbus_token="+tok); resp.StatusCode != 200 || !strings.HasPrefix(body, "app job-1 ") {
		t.Fatalf("its own port: %d %s", resp.StatusCode, body)
	}
	// A session:preview token that names no preview opens none.
	tn, sid, jti := "acme", "job-1", "j1"
	unbound, err := token.Issuer{Secret: secret}.Mint(token.Input{Tenant: &tn, SessionID: &sid, JTI: &jti, Scopes: []string{token.ScopeSessionPreview}})
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := do(t, c, "GET", hostA+"/?nimbus_token="+unbound); resp.StatusCode != 403 || !strings.Contains(body, `"code":"E_PREVIEW_LINK_MISMATCH"`) {
		t.Errorf("a token that names no preview: %d %s", resp.StatusCode, body)
	}
}

// The API's answers to a loopback name name the preview host suffix
// (PreviewHostSuffixHeader), which clients use to print the preview hosts'
// URLs; answers to another name (--allow-host, --allow-remote), where
// previews stay path doors, name none, as a Worker's.
func TestAPINamesItsPreviewHostSuffixUnderLoopbackNames(t *testing.T) {
	_, hs := newServer(t)
	c := browser(t, hs)
	use := mint(t, "job-1", token.ScopeSandboxUse)
	for name, want := range map[string]string{"127.0.0.1": "localhost", "localhost": "localhost", "dev.localhost": "localhost", "dev.example": ""} {
		resp, body := do(t, c, "POST", named(hs, name)+"/api/nimbus/v1/sandboxes/job-1/rpc", "Authorization", "Bearer "+use, "Content-Type", "application/json")
		if got := resp.Header.Get(localsandbox.PreviewHostSuffixHeader); got != want {
			t.Errorf("%s: %s %q, want %q (%d %s)", name, localsandbox.PreviewHostSuffixHeader, got, want, resp.StatusCode, body)
		}
	}
}
