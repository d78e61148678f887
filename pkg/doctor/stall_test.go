//go:build unix

package doctor_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/doctor"
	"github.com/nimbus-sh/nimbus/pkg/provision"
)

// TestEveryNetworkCheckIsBounded: against a release endpoint, a Worker and
// a Cloudflare API that all accept requests and never answer, doctor still
// ends, each network check failing or skipping after Timeout, so a CI job
// that runs it is never held.
func TestEveryNetworkCheckIsBounded(t *testing.T) {
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The body read, the server notices the client going away.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	defer silent.Close()
	c, err := provision.NewClient(provision.ClientOptions{Token: "tok", BaseURL: silent.URL, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	d := &doctor.Doctor{Version: "v1.0.0", ReleaseURL: silent.URL, Endpoint: silent.URL, Secret: secret, Tenant: "acme",
		Project: projectFS(strings.Replace(goodWrangler, "PIN", strings.Repeat("a", 64), 1)), Cloudflare: c,
		Timeout: 200 * time.Millisecond}
	// The bound that catches a hang; far above the checks' timeouts.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := d.Run(ctx)
	if ctx.Err() != nil {
		t.Fatal("doctor did not end before the hang catcher")
	}
	if r.OK {
		t.Fatalf("a silent Worker passed: %+v", r.Checks)
	}
	seen := map[string]bool{}
	for _, ch := range r.Checks {
		seen[ch.Name] = true
		t.Logf("%s %s: %s", ch.Status, ch.Name, ch.Detail)
		switch ch.Name {
		case "version", "endpoint", "clock", "buckets", "runtime-catalog", "worker-secret":
			if ch.Status == doctor.Pass {
				t.Errorf("%s passed against a silent server: %s", ch.Name, ch.Detail)
			}
		}
	}
	for _, name := range []string{"version", "endpoint", "buckets", "runtime-catalog", "worker-secret"} {
		if !seen[name] {
			t.Errorf("no %s check in the report", name)
		}
	}
}
