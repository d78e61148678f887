// Package reqlog is the request recording and fault injection that the
// in-process fakes of the services nimbus talks to (internal/cftest,
// internal/npmtest) share: each fake records what it received, in its own
// Request type, and fails matching requests with its own Fault type, but
// matching, using up and waiting are written once here.
package reqlog

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Log records requests of type R and holds faults of type F. The zero Log
// is ready to use; it is safe for concurrent use.
type Log[R, F any] struct {
	mu       sync.Mutex
	arrived  sync.Cond // on mu; signalled when a request is recorded
	requests []entry[R]
	faults   []*fault[F]
}

type entry[R any] struct {
	method, path string
	req          R
}

type fault[F any] struct {
	method, pathSuffix string
	// times is how many more requests fail: 0 means all, -1 used up.
	times int
	f     F
}

// cond returns arrived, set up on first use (under l.mu).
func (l *Log[R, F]) cond() *sync.Cond {
	if l.arrived.L == nil {
		l.arrived.L = &l.mu
	}
	return &l.arrived
}

// AddFault installs f for requests whose method is method ("" matches
// any) and whose path ends in pathSuffix ("" matches all). The first
// times such requests fail; 0 means all of them. Faults are tried in the
// order they were added.
func (l *Log[R, F]) AddFault(method, pathSuffix string, times int, f F) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.faults = append(l.faults, &fault[F]{method: method, pathSuffix: pathSuffix, times: times, f: f})
}

// Record records req, received as method and path, and returns the fault
// it must fail with, using that fault up by one, or ok false.
func (l *Log[R, F]) Record(method, path string, req R) (f F, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests = append(l.requests, entry[R]{method: method, path: path, req: req})
	l.cond().Broadcast()
	for _, ft := range l.faults {
		if (ft.method == "" || ft.method == method) && strings.HasSuffix(path, ft.pathSuffix) && ft.times >= 0 {
			if ft.times > 0 {
				ft.times--
				if ft.times == 0 {
					ft.times = -1 // used up
				}
			}
			return ft.f, true
		}
	}
	return f, false
}

// Requests returns a copy of the recorded requests.
func (l *Log[R, F]) Requests() []R {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]R, len(l.requests))
	for i, e := range l.requests {
		out[i] = e.req
	}
	return out
}

// Reset forgets the recorded requests.
func (l *Log[R, F]) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests = nil
}

// Summary renders the recorded requests as "METHOD path" lines.
func (l *Log[R, F]) Summary() string {
	l.mu.Lock()
	requests := slices.Clone(l.requests)
	l.mu.Unlock()
	var b strings.Builder
	for _, e := range requests {
		fmt.Fprintf(&b, "%s %s\n", e.method, e.path)
	}
	return b.String()
}

// Wait blocks until a request with this method ("" any) and path suffix
// has been recorded, or until timeout; it reports whether one was.
func (l *Log[R, F]) Wait(method, pathSuffix string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	t := time.AfterFunc(timeout, func() {
		l.mu.Lock()
		l.cond().Broadcast()
		l.mu.Unlock()
	})
	defer t.Stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		for _, e := range l.requests {
			if (method == "" || e.method == method) && strings.HasSuffix(e.path, pathSuffix) {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		l.cond().Wait()
	}
}
