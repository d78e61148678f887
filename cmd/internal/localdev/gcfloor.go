package localdev

import (
	"runtime"
	"runtime/debug"
	"sync"
)

// runtimeHeapMinimum is the Go runtime's smallest heap goal at GOGC=100
// (4 MiB, scaled by GOGC/100 at other settings): below it the collector
// runs whenever the heap reaches that size, however little of it is live.
const runtimeHeapMinimum = 4 << 20

// GCFloor is the heap goal StartGCFloor keeps the collector at, at least:
// `nimbus dev` between requests has well under 1 MiB live, so at GOGC=50
// alone its goal is the runtime's minimum scaled down, 2 MiB, and a server
// answering small requests (each allocates about 3.5 KiB, net/http's share
// included) collects every few hundred of them, a fixed cost of a
// millisecond or more of CPU each (a stop of both processors, the stacks
// scanned, the spans swept) for almost nothing freed. 4 MiB is GOGC=100's
// goal for such a heap; once the live heap is large enough for GOGC=50 to
// give more (above 2.7 MiB: a few hundred connections with commands in
// flight), GOGC=50 governs alone, so the peak a busy server reaches does
// not move (docs/benchmarks.md, "A floor under the heap goal").
const GCFloor = 4 << 20

// StartGCFloor runs the collector at percent (as GOGC) with a heap goal of
// at least floor bytes: after each collection it sets the percent that
// gives a goal of max(live*(1+percent/100), floor), which is percent
// itself once the live heap is large enough. It is for a process whose GC
// percent nobody else sets (no GOGC variable). stop restores percent and
// ends the tuning.
func StartGCFloor(percent int, floor uint64) (stop func()) {
	return startGCFloor(percent, floor, debug.SetGCPercent, liveHeap)
}

// startGCFloor is StartGCFloor with the runtime's setter and the live
// heap's source given (tests).
func startGCFloor(percent int, floor uint64, set func(int) int, live func() uint64) (stop func()) {
	t := &gcFloor{percent: percent, floor: floor, set: set, live: live}
	t.tune()
	t.arm()
	return t.stop
}

// gcFloor tunes the GC percent once per collection (see StartGCFloor).
type gcFloor struct {
	percent int
	floor   uint64
	set     func(int) int
	live    func() uint64
	mu      sync.Mutex // orders the calls of set
	cur     int        // under mu: the percent last set; 0 before the first
	stopped bool       // under mu
}

// gcSentinel is an object that becomes garbage at once: its cleanup runs
// after the collection that finds it, and arms the next one. It holds a
// pointer so that it is not a tiny allocation, whose cleanups may never
// run.
type gcSentinel struct {
	_ *int
	_ [2]uint64
}

func (t *gcFloor) arm() {
	runtime.AddCleanup(new(gcSentinel), func(t *gcFloor) {
		if t.tune() {
			t.arm()
		}
	}, t)
}

// tune sets the percent for the live heap the last collection found; it
// reports false once stopped.
func (t *gcFloor) tune() bool {
	p := gcPercentFor(t.live(), t.floor, t.percent)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	if p != t.cur {
		t.cur = p
		t.set(p)
	}
	return true
}

func (t *gcFloor) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stopped {
		t.stopped = true
		t.set(t.percent)
	}
}

// gcPercentFor is the GC percent whose heap goal, for live bytes found
// live by the last collection, is max(live*(1+percent/100), floor): the
// runtime's goal is max(live*(1+p/100), runtimeHeapMinimum*p/100), so p is
// at most what puts either term at floor, and at least percent.
func gcPercentFor(live, floor uint64, percent int) int {
	if live*uint64(100+percent) >= floor*100 {
		return percent
	}
	p := floor * 100 / runtimeHeapMinimum
	if live > 0 {
		p = min(p, floor*100/live-100)
	}
	return max(int(p), percent)
}

// liveHeap is the heap in use as a collection's cleanups run: what it
// found live and the little allocated since. (runtime/metrics has the
// live heap alone, but its package initialisation would cost every nimbus
// command 14 KB of allocation: TestStartupBudget. ReadMemStats stops the
// world for some microseconds, once per collection.)
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
