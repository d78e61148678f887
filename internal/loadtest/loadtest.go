// Package loadtest is the load generator of `nimbus dev`'s benchmarks: it
// runs an operation from a fixed number of workers for a while, records
// every latency, and compares the figures with floors measured in the same
// run (a bare HTTP server answering fixed JSON, and fork+exec of
// /bin/sh -c true with and without namespaces), so that a result stays
// meaningful on a busy machine. cmd's BenchmarkDevLoad drives it against
// the real `nimbus dev`; docs/benchmarks.md says how to run it.
package loadtest

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Op is one operation of a worker (numbered from 0), timed as a whole.
type Op func(ctx context.Context, worker int) error

// Result is what one run of an Op measured.
type Result struct {
	Concurrency int
	Ops         int
	Errors      int
	// FirstErr is the first error, when there were any.
	FirstErr error
	Elapsed  time.Duration
	// Latencies holds every successful operation's latency, sorted.
	Latencies []time.Duration
	// ServerCPU is the CPU time (user and system) the serving process
	// spent during the run, when the caller measured it (see ProcCPU); 0
	// means unknown. Per operation it is the server's own cost, which a
	// busy machine changes much less than throughput.
	ServerCPU time.Duration
}

// CPUPerOp is ServerCPU per successful operation, 0 when unknown.
func (r Result) CPUPerOp() time.Duration {
	if r.Ops == 0 {
		return 0
	}
	return r.ServerCPU / time.Duration(r.Ops)
}

// OpsPerSec is the throughput of successful operations.
func (r Result) OpsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// Quantile returns the latency below which a fraction q of the operations
// finished (nearest rank), 0 without operations.
func (r Result) Quantile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(q*float64(len(r.Latencies))+0.5) - 1
	return r.Latencies[min(max(i, 0), len(r.Latencies)-1)]
}

// Run runs op from c workers until d has passed (each worker finishes the
// operation it is in) or, when n > 0, until n operations have been
// started, whichever comes first. A failed operation counts as an error;
// the run goes on.
func Run(ctx context.Context, c int, d time.Duration, n int, op Op) Result {
	var started atomic.Int64
	deadline := time.Now().Add(d)
	lat := make([][]time.Duration, c)
	errs := make([]int, c)
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	begin := time.Now()
	for w := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if n > 0 && started.Add(1) > int64(n) {
					return
				}
				t0 := time.Now()
				if d > 0 && t0.After(deadline) {
					return
				}
				if err := op(ctx, w); err != nil {
					errs[w]++
					errOnce.Do(func() { firstErr = err })
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	r := Result{Concurrency: c, Elapsed: time.Since(begin), FirstErr: firstErr}
	for w := range c {
		r.Latencies = append(r.Latencies, lat[w]...)
		r.Errors += errs[w]
	}
	slices.Sort(r.Latencies)
	r.Ops = len(r.Latencies)
	return r
}
