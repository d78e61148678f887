//go:build unix

package localsandbox

import (
	"context"
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
