//go:build unix

package localsandbox_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/conformance"
)

const secret = "local-test-secret-0123456789abcdef"

// newServer starts a local backend on a loopback listener.
func newServer(t testing.TB, mod ...func(*localsandbox.Options)) (*localsandbox.Server, *httptest.Server) {
	t.Helper()
	o := localsandbox.Options{DataDir: t.TempDir(), Secret: secret, HostEnv: []string{"PATH=" + os.Getenv("PATH"), "LANG=C"}}
	for _, m := range mod {
		m(&o)
	}
	s, err := localsandbox.New(o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		hs.Close()
		_ = s.Close()
	})
	return s, hs
}

// TestConformanceHTTP runs the client's end-to-end suite against the local
// backend over real HTTP.
func TestConformanceHTTP(t *testing.T) {
	conformance.Run(t, func(t *testing.T) conformance.Backend {
		_, hs := newServer(t)
		return conformance.Backend{URL: hs.URL, Secret: secret, PreviewHosts: true}
	})
}

// TestConformanceInProcess runs the suite through the in-process
// transport that --local uses.
func TestConformanceInProcess(t *testing.T) {
	conformance.Run(t, func(t *testing.T) conformance.Backend {
		s, err := localsandbox.New(localsandbox.Options{DataDir: t.TempDir(), Secret: secret, HostEnv: []string{"PATH=" + os.Getenv("PATH")}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return conformance.Backend{URL: "http://nimbus.local", HTTPClient: &http.Client{Transport: &localsandbox.Transport{Handler: s}}, Secret: secret}
	})
}
