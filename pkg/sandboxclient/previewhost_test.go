package sandboxclient_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
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
