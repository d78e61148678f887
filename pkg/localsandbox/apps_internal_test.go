//go:build unix

package localsandbox

import (
	"context"
	"net/http"
	"os"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

// TestDestroyedAppsStayGone: an app op that raced destroy (it still holds
// the destroyed sandbox) cannot write the records back.
func TestDestroyedAppsStayGone(t *testing.T) {
	s, err := New(Options{DataDir: t.TempDir(), Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const do = "acme:_:race"
	h, aerr := s.enter(context.Background(), do, "race")
	if aerr != nil {
		t.Fatal(aerr)
	}
	h.leave()
	sb := h.sb
	name := "web"
	tb := sb.lockApps()
	_, aerr = sb.applyExposure(tb, 3000, "auto:x", sandboxserver.ExposeOptions{Name: &name})
	tb.mu.Unlock()
	if aerr != nil {
		t.Fatal(aerr)
	}
	if _, err := os.Stat(s.appStatePath(do)); err != nil {
		t.Fatal(err)
	}
	if _, aerr := s.destroy(do, ""); aerr != nil {
		t.Fatal(aerr)
	}
	tb = sb.lockApps()
	_, aerr = sb.applyExposure(tb, 3001, "auto:y", sandboxserver.ExposeOptions{})
	n := len(tb.byPort)
	tb.mu.Unlock()
	if aerr == nil || aerr.Message != "cannot save the sandbox's apps: the sandbox was destroyed" {
		t.Fatalf("%v", aerr)
	}
	if _, err := os.Stat(s.appStatePath(do)); !os.IsNotExist(err) || n > 1 {
		t.Fatalf("records back after destroy: %v, %d in memory", err, n)
	}
}

// TestPreviewHostBaseTakesOnlyAPortNumber: the port of the Host header is
// copied into the path doors' Location and into preview URLs, so anything
// but a port number there gives no preview host (the caller falls back to
// the path door) rather than a URL whose authority someone else chose.
func TestPreviewHostBaseTakesOnlyAPortNumber(t *testing.T) {
	for host, want := range map[string]string{
		"localhost:8787":                 "http://3000--job-1.localhost:8787",
		"127.0.0.1:8787":                 "http://3000--job-1.localhost:8787",
		"localhost":                      "http://3000--job-1.localhost",
		"localhost:1@evil.example":       "",
		"localhost:8787/x":               "",
		"127.0.0.1:0":                    "",
		"[::1]:99999":                    "",
		"localhost:08787":                "",
		"localhost:8787#@evil.example:1": "",
	} {
		r := &http.Request{Host: host}
		if got := previewHostBase(r, "job-1", "3000"); got != want {
			t.Errorf("Host %q: %q, want %q", host, got, want)
		}
	}
}
