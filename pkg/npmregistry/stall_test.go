package npmregistry_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/internal/npmtest"
	"github.com/nimbus-sh/nimbus/pkg/npmregistry"
)

// TestStalledAnswersFail: a registry (or proxy) that sends the headers and
// part of an answer, then nothing, fails the packument GET and the tarball
// download after the stall timeout, in CI where nobody presses Ctrl-C,
// instead of hanging until the job's own timeout.
func TestStalledAnswersFail(t *testing.T) {
	srv, c, _ := fakeRegistry(t)
	c.StallTimeout = 200 * time.Millisecond
	c.MaxRetries = -1
	p, err := c.Packument(context.Background(), "@nimbus-sh/runtime-bash")
	if err != nil {
		t.Fatal(err)
	}
	dist := p.Versions["5.2.37"].Dist
	integ, err := npmregistry.ParseIntegrity(dist.Integrity)
	if err != nil {
		t.Fatal(err)
	}
	srv.AddFault(npmtest.Fault{Stall: true})
	// The bound that catches a hang; far above the stall timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	check := func(what string, err error) {
		t.Helper()
		e, ok := npmregistry.AsError(err)
		if ctx.Err() != nil || !ok || e.Kind != npmregistry.KindUnavailable {
			t.Fatalf("%s: %v (%+v), want KindUnavailable after the stall timeout", what, err, e)
		}
		t.Logf("%s: %v", what, err)
	}
	_, err = c.Packument(ctx, "@nimbus-sh/runtime-bash")
	check("packument", err)
	_, err = c.Download(ctx, dist.Tarball, integ, io.Discard, nil)
	check("download", err)
}
