//go:build unix

package localsandbox_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// TestInProcessTimeoutPhases: through the in-process transport (--local),
// a server that has read the whole request and is slow to answer is
// reported as no answer in time (phase headers), not as a server that
// stopped reading the request; one that stops reading half-way still is
// (phase upload).
func TestInProcessTimeoutPhases(t *testing.T) {
	s, err := localsandbox.New(localsandbox.Options{DataDir: t.TempDir(), Secret: secret, HostEnv: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	for _, tc := range []struct {
		name  string
		read  func(r io.Reader) ([]byte, error) // what the server reads before it stalls
		phase string
		text  string
	}{
		{"slow answer", io.ReadAll, "headers", "HTTP timeout: no answer from "},
		{"stopped reading", func(r io.Reader) ([]byte, error) {
			b := make([]byte, 1)
			_, err := io.ReadFull(r, b)
			return b, err
		}, "upload", " stopped reading the request for "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, err := tc.read(r.Body)
				if err != nil {
					t.Error(err)
				}
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
				r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(got), r.Body))
				s.ServeHTTP(w, r)
			})
			const limit = 300 * time.Millisecond
			c, err := sc.New(sc.Options{
				Endpoint:    "http://nimbus.local",
				Tokens:      sc.StaticToken(mint(t, "tp", token.ScopeSandboxUse)),
				HTTPClient:  &http.Client{Transport: &localsandbox.Transport{Handler: h}},
				HTTPTimeout: limit,
			})
			if err != nil {
				t.Fatal(err)
			}
			sb, err := c.Sandbox("tp", sc.SandboxOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err = sb.WriteFile(ctx, "/home/user/f", bytes.Repeat([]byte("x"), 256<<10))
			close(release)
			var ce *sc.Error
			if !errors.As(err, &ce) || ce.Code != sc.CodeHTTPTimeout || ce.Phase != tc.phase || !strings.Contains(ce.Message, tc.text) {
				t.Fatalf("got %#v, want %s in phase %s saying %q", err, sc.CodeHTTPTimeout, tc.phase, tc.text)
			}
		})
	}
}
