package npmregistry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
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

// TestDrippedAnswersFail: a registry (or proxy) that keeps the answer
// coming a few bytes at a time never stalls for a whole StallTimeout, and
// would hold runtime sync for as long as 64 MiB of packument or 1 GiB of
// tarball take at that pace (years). Both fail once a StallTimeout passes
// with less than MinTransferRate's share of bytes.
func TestDrippedAnswersFail(t *testing.T) {
	integ, err := npmregistry.ParseIntegrity("sha512-" + strings.Repeat("A", 86) + "==")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		head := `{"name":"@nimbus-sh/runtime-bash","versions":{`
		if strings.HasSuffix(r.URL.Path, ".tgz") {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.Itoa(1<<30))
			head = "\x1f\x8b"
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, head)
		w.(http.Flusher).Flush()
		// A byte (JSON whitespace, or more of the gzip stream) every
		// 10ms: far more often than the stall timeout, far slower than
		// any link.
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
			if _, err := io.WriteString(w, " "); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	c := &npmregistry.Client{Registry: srv.URL + "/", StallTimeout: 200 * time.Millisecond, MaxRetries: -1}
	// The bound that catches a hang; far above the stall timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	check := func(what string, err error) {
		t.Helper()
		e, ok := npmregistry.AsError(err)
		if ctx.Err() != nil || !ok || e.Kind != npmregistry.KindUnavailable || !strings.Contains(e.Message, "stalled") {
			t.Fatalf("%s: %v (%+v), want KindUnavailable, a stalled transfer", what, err, e)
		}
		t.Logf("%s: %v", what, err)
	}
	_, err = c.Packument(ctx, "@nimbus-sh/runtime-bash")
	check("packument", err)
	_, err = c.Download(ctx, srv.URL+"/@nimbus-sh/runtime-bash/-/runtime-bash-5.2.37.tgz", integ, io.Discard, nil)
	check("download", err)
}
