//go:build unix

package localsandbox_test

import (
	"strconv"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/sandboxserver/apiexamples"
)

// TestSpecExamples replays the spec's request/response examples against
// the local backend over HTTP, with the examples' profiles and a second
// server without a secret, so every example a local server can answer is
// replayed (the end-to-end test of `nimbus dev` replays those its
// configuration allows).
func TestSpecExamples(t *testing.T) {
	srv, hs := newServer(t, func(o *localsandbox.Options) { o.Profiles = apiexamples.Profiles() })
	_, nosecret := newServer(t, func(o *localsandbox.Options) { o.Secret = "" })
	sum := apiexamples.Replay(t, apiexamples.Target{
		URL: hs.URL, Secret: secret, NoSecretURL: nosecret.URL, HasProfiles: true,
		// The example's server runs in /home/user/app.
		Server: func(port int) string {
			return appListenEnv + "=127.0.0.1:" + strconv.Itoa(port) + " " + installAppServer(t, srv, "acme:alice:job-123", "/home/user/app")
		},
	})
	t.Log(sum)
	if sum.Replayed != sum.Total-5 || sum.Matched != sum.Replayed {
		t.Fatalf("%s", sum)
	}
}
