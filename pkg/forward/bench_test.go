//go:build unix

package forward_test

import (
	"io"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/forward"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// BenchmarkForwardAddedLatency measures what a forward adds to a request:
// each iteration makes one request straight to the preview door of the
// local backend (the handler of `nimbus dev`) and one through a forward
// of the same port, alternating so both see the same machine load. It
// reports the median and 90th percentile of each and the added median
// (forwarded minus direct). Goal: added median below 1 ms.
func BenchmarkForwardAddedLatency(b *testing.B) {
	w := newWorld(b, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(rw, "ok") }))
	attach := mint(b, "job-1", token.ScopeSessionAttach)
	local := forwardTo(b, forward.Options{Endpoint: w.backend.URL, SandboxID: "job-1", Port: w.port, Token: staticToken(attach)})
	direct := w.backend.URL + "/s/job-1/port/" + strconv.Itoa(w.port) + "/"
	client := &http.Client{Transport: forward.NewTransport(0)}
	get := func(u, tok string) time.Duration {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		if resp.StatusCode != 200 || string(body) != "ok" {
			b.Fatalf("%s: %d %s", u, resp.StatusCode, body)
		}
		return d
	}
	// Warm both paths' connections.
	for range 20 {
		get(direct, attach)
		get(local+"/", "")
	}
	ds := make([]time.Duration, 0, b.N)
	fs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		ds = append(ds, get(direct, attach))
		fs = append(fs, get(local+"/", ""))
	}
	b.StopTimer()
	slices.Sort(ds)
	slices.Sort(fs)
	q := func(s []time.Duration, p float64) float64 { return float64(s[int(float64(len(s)-1)*p)].Nanoseconds()) }
	b.ReportMetric(q(ds, 0.5), "direct-p50-ns")
	b.ReportMetric(q(fs, 0.5), "forwarded-p50-ns")
	b.ReportMetric(q(ds, 0.9), "direct-p90-ns")
	b.ReportMetric(q(fs, 0.9), "forwarded-p90-ns")
	b.ReportMetric(q(fs, 0.5)-q(ds, 0.5), "added-p50-ns")
}
