package localdev

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// ProcsQuiet is how long the server must have had at most one request in
// flight before ServeOptions.Procs narrows it to one processor again: at
// most a few changes a second however the load comes and goes, each a
// stop of the world of some microseconds.
const ProcsQuiet = 250 * time.Millisecond

// procsQuiet is the ProcsQuiet of the governors made from now on; tests
// that check what happens within it lengthen it, since on a loaded
// machine under -race a few requests in a row can take 250 ms.
var procsQuiet = ProcsQuiet

// RuntimeProcs sets this process's GOMAXPROCS for ServeOptions.Procs: 1
// for n == 1, and the runtime's default (which follows the CPUs and the
// container's CPU limit) for n == 0. It is for a process whose GOMAXPROCS
// is otherwise the default: set by no GOMAXPROCS variable and no call to
// runtime.GOMAXPROCS.
func RuntimeProcs(n int) {
	if n == 1 {
		runtime.GOMAXPROCS(1)
		return
	}
	runtime.SetDefaultGOMAXPROCS()
}

// procGovernor runs the server on one processor while one client at a
// time drives it, and on all of them as soon as two do: when two requests
// are in flight, or a request follows one from another open connection
// within ProcsQuiet. (On one processor handlers run one after the other,
// so requests in flight alone would not see sixteen clients waiting.) A
// connection its client has closed is a client gone, even before the
// server has read that far (slotConn.gone): a CLI run per command opens
// the next connection at once, and which of the server's goroutines runs
// first, the one reading the end of the last connection or the one
// beginning the next request, is the scheduler's choice.
//
// One client at a time is how a developer, a test suite or a CI step
// drives `nimbus dev`. With idle processors the runtime wakes another
// thread for each goroutine a request readies (net/http starts one per
// request to watch the connection), and that thread spins looking for
// work, finds none and sleeps again: on a 2-core machine this was a third
// of the server's CPU per request and a fifth of a 4 KiB write+read's
// latency (docs/benchmarks.md, "One processor when quiet").
type procGovernor struct {
	set      func(n int)
	quiet    int64 // ProcsQuiet, in the units of monoAt
	inflight atomic.Int32
	narrow   atomic.Bool
	busyAt   atomic.Int64             // monoAt of the last moment two clients were seen
	lastConn atomic.Pointer[slotConn] // the connection of the latest request
	lastAt   atomic.Int64             // when it began (monoAt)
	mu       sync.Mutex               // orders the calls of set
	stopped  bool                     // under mu: the default is back for good
}

func newProcGovernor(set func(int)) *procGovernor {
	g := &procGovernor{set: set, quiet: int64(procsQuiet)}
	g.narrow.Store(true)
	set(1)
	return g
}

// begin counts a request on c in.
func (g *procGovernor) begin(c *slotConn) {
	now := monoAt(time.Now())
	n := g.inflight.Add(1)
	prev, prevAt := g.lastConn.Swap(c), g.lastAt.Swap(now)
	if n < 2 && !g.narrow.Load() && now-g.busyAt.Load() < g.quiet/2 {
		// Wide, and two clients were seen less than half of ProcsQuiet
		// ago: whatever this request shows, the server stays wide until
		// a request after that half looks again. Under steady load most
		// requests find at most one in flight (on two cores a handler is
		// done before the next arrives), and looking means a system call
		// on the last connection (gone): 7% of a `ready`'s CPU at 16
		// clients.
		return
	}
	if n < 2 && (prev == nil || prev == c || now-prevAt >= g.quiet || prev.gone()) {
		return
	}
	g.busyAt.Store(now)
	if g.narrow.Load() {
		g.mu.Lock()
		if g.narrow.Load() {
			g.narrow.Store(false)
			g.set(0)
		}
		g.mu.Unlock()
	}
}

// end counts a request out, and narrows when the server has been quiet
// for ProcsQuiet.
func (g *procGovernor) end() {
	if g.inflight.Add(-1) > 1 || g.narrow.Load() || monoAt(time.Now())-g.busyAt.Load() < g.quiet {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.narrow.Load() || g.stopped {
		return
	}
	// narrow is published before in-flight requests are counted again:
	// a request that begins now either is counted here or finds narrow
	// set and widens (after this, as it waits for mu).
	g.narrow.Store(true)
	if g.inflight.Load() > 1 || monoAt(time.Now())-g.busyAt.Load() < g.quiet {
		g.narrow.Store(false)
		return
	}
	g.set(1)
}

// stop gives the process its default back, for good: requests still
// ending during a shutdown do not narrow it again.
func (g *procGovernor) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopped = true
	g.narrow.Store(false)
	g.set(0)
}
