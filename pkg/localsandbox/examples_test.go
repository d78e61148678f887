//go:build unix

package localsandbox_test

import (
	"os"
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
	_, hs := newServer(t, func(o *localsandbox.Options) { o.Profiles = apiexamples.Profiles() })
	_, nosecret := newServer(t, func(o *localsandbox.Options) { o.Secret = "" })
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sum := apiexamples.Replay(t, apiexamples.Target{
		URL: hs.URL, Secret: secret, NoSecretURL: nosecret.URL, HasProfiles: true,
		Server: func(port int) string {
			return appListenEnv + "=127.0.0.1:" + strconv.Itoa(port) + " '" + exe + "'"
		},
	})
	t.Log(sum)
	if sum.Replayed != sum.Total-5 || sum.Matched != sum.Replayed {
		t.Fatalf("%s", sum)
	}
}
