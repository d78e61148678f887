package sandboxclient_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
)

// Under a loopback preview host suffix (localhost, as nimbus dev's, or a
// name under .localhost) a port URL keeps the endpoint's scheme and port:
// the SDK's https://3000--job-1.localhost/ names no server, where the
// local server answers on http://127.0.0.1:8787. Any other suffix is a
// deployed Worker's: https, no port, as the SDK builds it.
func TestLoopbackSuffixKeepsTheEndpointsSchemeAndPort(t *testing.T) {
	cases := []struct {
		endpoint, suffix string
		o                sc.URLOptions
		want             string
	}{
		{"http://127.0.0.1:8787", "localhost", sc.URLOptions{}, "http://3000--job-1.localhost:8787/"},
		{"http://127.0.0.1:8787/", "localhost.", sc.URLOptions{Name: "web"}, "http://web--job-1.localhost:8787/"},
		{"HTTP://LOCALHOST:8787", "LocalHost", sc.URLOptions{}, "http://3000--job-1.LocalHost:8787/"},
		{"https://localhost:8443", "localhost", sc.URLOptions{}, "https://3000--job-1.localhost:8443/"},
		{"http://[::1]:8787", "localhost", sc.URLOptions{}, "http://3000--job-1.localhost:8787/"},
		{"http://alice:pw@127.0.0.1:8787", "dev.localhost", sc.URLOptions{}, "http://3000--job-1.dev.localhost:8787/"},
		{"http://localhost", "localhost", sc.URLOptions{}, "http://3000--job-1.localhost/"},
		{"http://127.0.0.1:8787", "localhost", sc.URLOptions{Visibility: "public", Capability: "abc"}, "http://abc--3000--job-1.localhost:8787/"},
		// A Worker's suffix: as the SDK, whatever the endpoint.
		{"http://127.0.0.1:8787", "p.example.com", sc.URLOptions{}, "https://3000--job-1.p.example.com/"},
		{"https://n.example.com:8443", "p.example.com", sc.URLOptions{}, "https://3000--job-1.p.example.com/"},
		{"http://127.0.0.1:8787", "notlocalhost", sc.URLOptions{}, "https://3000--job-1.notlocalhost/"},
		{"http://127.0.0.1:8787", "localhost.example.com", sc.URLOptions{}, "https://3000--job-1.localhost.example.com/"},
	}
	for _, tc := range cases {
		c := newClient(t, tc.endpoint, "", func(o *sc.Options) { o.PreviewHostSuffix = tc.suffix })
		if got := box(t, c, "job-1").PortURL(3000, tc.o); got != tc.want {
			t.Errorf("%s with suffix %q: got %q, want %q", tc.endpoint, tc.suffix, got, tc.want)
		}
	}
}

// previewApp starts an app server on 127.0.0.1 that answers its Host and
// path, and returns its port.
func previewApp(t *testing.T) int {
	t.Helper()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "app: %s %s", r.Host, r.URL.Path)
	}))
	t.Cleanup(app.Close)
	u, err := url.Parse(app.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// openPreview GETs rawURL, a preview host's URL under localhost, as a
// browser or curl would (every *.localhost name is this machine), with a
// bearer token; it returns the status and the body.
func openPreview(t *testing.T, rawURL, tok string) (int, string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, u.Scheme+"://127.0.0.1:"+u.Port()+u.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = u.Host
	req.Header.Set("Authorization", "Bearer "+tok)
	c := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// With the suffix localhost against the local backend (nimbus dev's), the
// URL ExposePort gives is one that backend serves: its preview host on
// its own port, over http.
func TestExposePortWithSuffixLocalhostIsServed(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{})
	c := newClient(t, srv.URL, "full", func(o *sc.Options) { o.PreviewHostSuffix = "localhost" })
	sb := box(t, c, "job-1")
	port := previewApp(t)
	ep, err := sb.ExposePort(ctx(t), port, sc.ExposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(srv.URL)
	want := "http://" + strconv.Itoa(port) + "--job-1.localhost:" + u.Port() + "/"
	if ep.URL != want {
		t.Fatalf("URL %q, want %q", ep.URL, want)
	}
	status, body := openPreview(t, ep.URL+"index.html", mintID(srv.Secret(), testIDs["full"]))
	if status != http.StatusOK || body != "app: "+strconv.Itoa(port)+"--job-1.localhost:"+u.Port()+" /index.html" {
		t.Fatalf("%s: %d %q", ep.URL, status, body)
	}
}

// nimbus dev names its preview host suffix (PreviewHostSuffixHeader) on
// the answers to a loopback name, and serves each preview there, an
// origin of its own; its path doors send browsers on to those hosts. So
// the client prints the preview hosts' URLs without --preview-host-suffix:
// ports, named apps and public apps (nimbus dev serves no capability
// hosts: the scoped host serves them). (Apps' URLs are built by the same
// PortURL: cmd/testdata/dev/preview_urls.txtar lists them.)
func TestLocalServerGivesItsPreviewHosts(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{})
	u, _ := url.Parse(srv.URL)
	c := newClient(t, srv.URL, "full")
	sb := box(t, c, "job-1")
	tok := mintID(srv.Secret(), testIDs["full"])
	port := previewApp(t)
	p := strconv.Itoa(port)
	host := func(label string) string { return "http://" + label + "--job-1.localhost:" + u.Port() + "/" }

	ep, err := sb.ExposePort(ctx(t), port, sc.ExposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ep.URL != host(p) {
		t.Fatalf("ExposePort URL %q, want %q", ep.URL, host(p))
	}
	if got := sb.PortURL(port, sc.URLOptions{}); got != host(p) {
		t.Fatalf("PortURL %q, want %q", got, host(p))
	}
	if status, body := openPreview(t, ep.URL+"a", tok); status != http.StatusOK || body != "app: "+p+"--job-1.localhost:"+u.Port()+" /a" {
		t.Fatalf("%s: %d %q", ep.URL, status, body)
	}
	// Another handle of the same client, before any call of its own.
	other := box(t, c, "job-2")
	if got := other.PortURL(3000, sc.URLOptions{Name: "web"}); got != "http://web--job-2.localhost:"+u.Port()+"/" {
		t.Fatalf("job-2: %q", got)
	}

	for _, vis := range []string{"scoped", "public"} {
		a, err := sb.ExposePort(ctx(t), port, sc.ExposeOptions{Name: "web", Visibility: vis})
		if err != nil {
			t.Fatal(err)
		}
		if a.URL != host("web") {
			t.Fatalf("%s: URL %q, want %q", vis, a.URL, host("web"))
		}
		if status, body := openPreview(t, a.URL+"b", tok); status != http.StatusOK || body != "app: web--job-1.localhost:"+u.Port()+" /b" {
			t.Fatalf("%s %s: %d %q", vis, a.URL, status, body)
		}
	}

	// The profile's preview settings still win.
	path, _ := c.Sandbox("job-1", sc.SandboxOptions{PreviewPathStyle: true})
	base, _ := c.Sandbox("job-1", sc.SandboxOptions{PreviewBaseURL: "https://pv.example.com/{sessionId}/"})
	if got := path.PortURL(port, sc.URLOptions{}); got != srv.URL+"/s/job-1/port/"+p+"/" {
		t.Fatalf("pathStyle: %q", got)
	}
	if got := base.PortURL(port, sc.URLOptions{}); got != "https://pv.example.com/job-1/port/"+p+"/" {
		t.Fatalf("baseUrl: %q", got)
	}
	// A suffix given wins over the one the server names.
	given := box(t, newClient(t, srv.URL, "full", func(o *sc.Options) { o.PreviewHostSuffix = "p.example.com" }), "job-1")
	port2 := previewApp(t)
	if ep, err := given.ExposePort(ctx(t), port2, sc.ExposeOptions{}); err != nil || ep.URL != "https://"+strconv.Itoa(port2)+"--job-1.p.example.com/" {
		t.Fatalf("given suffix: %+v %v", ep, err)
	}
}

// Only a loopback endpoint's own loopback suffix is taken: a Worker sends
// no suffix, and a server elsewhere, or a suffix that is not this
// machine's, leaves the URLs the SDK's (path doors on the endpoint).
func TestNamedSuffixIsTakenOnlyFromThisMachine(t *testing.T) {
	for _, tc := range []struct {
		name, header string
		remote       bool
		want         string // "" for the path door
	}{
		{"named", "localhost", false, "http://3000--job-1.localhost:PORT/"},
		{"a Worker names none", "", false, ""},
		{"not a loopback suffix", "evil.example", false, ""},
		{"not a host", "x.localhost/@evil", false, ""},
		{"a remote endpoint", "localhost", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header().Set(sc.PreviewHostSuffixHeader, tc.header)
				}
				w.Header().Set("Content-Type", "application/json")
				var body struct{ Op string }
				if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
					t.Error(err)
				}
				switch body.Op {
				case "ready":
					io.WriteString(w, `{"ok":true,"result":{"ok":true,"preinstalled":[]}}`)
				case "exposePort":
					io.WriteString(w, `{"ok":true,"result":{"port":3000,"listening":false,"pid":null,"registeredAt":null,"capability":null}}`)
				default:
					t.Errorf("op %q", body.Op)
				}
			}))
			defer srv.Close()
			u, _ := url.Parse(srv.URL)
			endpoint := srv.URL
			var hc *http.Client
			if tc.remote {
				// worker.test, reached at the test server's address.
				endpoint = "http://worker.test:" + u.Port()
				hc = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, u.Host)
				}}}
			}
			c := newClient(t, endpoint, "tok", func(o *sc.Options) { o.HTTPClient = hc })
			ep, err := box(t, c, "job-1").ExposePort(ctx(t), 3000, sc.ExposeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := strings.ReplaceAll(tc.want, "PORT", u.Port())
			if want == "" {
				want = endpoint + "/s/job-1/port/3000/"
			}
			if ep.URL != want {
				t.Fatalf("URL %q, want %q", ep.URL, want)
			}
		})
	}
}
