package localdev

import (
	"runtime"
	"testing"
)

// TestGCPercentFor: with the percent it picks, the runtime's heap goal
// (max(live*(1+p/100), 4 MiB*p/100)) is max(live*1.5, floor) for GOGC=50
// and a 4 MiB floor, from an empty heap to a large one: never more than
// the floor while GOGC=50 alone would give less, and GOGC=50's own goal
// above it.
func TestGCPercentFor(t *testing.T) {
	const floor, percent = 4 << 20, 50
	for live := uint64(0); live <= 64<<20; live += 64 << 10 {
		p := gcPercentFor(live, floor, percent)
		if p < percent {
			t.Fatalf("live %d: percent %d below %d", live, p, percent)
		}
		goal := max(live*uint64(100+p)/100, runtimeHeapMinimum*uint64(p)/100)
		want := max(live*(100+percent)/100, floor)
		// Integer percents round the goal down by at most 1% of live.
		if goal > want || goal+live/100+1 < want {
			t.Fatalf("live %d: percent %d gives a goal of %d, want %d", live, p, goal, want)
		}
	}
	for _, c := range []struct {
		live uint64
		want int
	}{{0, 100}, {1 << 20, 100}, {2 << 20, 100}, {5 << 19, 60}, {3 << 20, 50}, {1 << 30, 50}} {
		if got := gcPercentFor(c.live, floor, percent); got != c.want {
			t.Errorf("live %d: percent %d, want %d", c.live, got, c.want)
		}
	}
}

// TestGCFloorFollowsCollections: the percent is set at the start for the
// heap then live, again after a collection that finds another live heap,
// not again for the same one, and back to the plain percent by stop, after
// which collections change nothing.
func TestGCFloorFollowsCollections(t *testing.T) {
	sets := make(chan int, 16)
	lives := make(chan uint64, 16)
	live := uint64(0)
	lives <- live
	stop := startGCFloor(50, 4<<20, func(p int) int { sets <- p; return 0 }, func() uint64 {
		select {
		case live = <-lives:
		default:
		}
		return live
	})
	if p := <-sets; p != 100 {
		t.Fatalf("at the start: %d, want 100", p)
	}
	// A collection that finds 3 MiB live: GOGC=50 alone.
	lives <- 3 << 20
	runtime.GC()
	if p := <-sets; p != 50 {
		t.Fatalf("after 3 MiB live: %d, want 50", p)
	}
	// Then 1 MiB, after a collection that found 3 MiB again (no call).
	lives <- 3 << 20
	runtime.GC()
	for len(lives) > 0 {
		runtime.GC()
	}
	lives <- 1 << 20
	for len(lives) > 0 {
		runtime.GC()
	}
	if p := <-sets; p != 100 {
		t.Fatalf("after 1 MiB live: %d, want 100", p)
	}
	stop()
	if p := <-sets; p != 50 {
		t.Fatalf("stop: %d, want 50", p)
	}
	stop() // a second stop sets nothing
	if len(sets) != 0 {
		t.Fatalf("after stop: %v", <-sets)
	}
}
