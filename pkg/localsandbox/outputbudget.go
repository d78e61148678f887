package localsandbox

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

// CodeOutputBudget (503) is a buffered exec or runCode whose output found
// the server's memory for buffered output (Options.MaxBufferedOutputTotal)
// in use by other calls for longer than Options.BufferedOutputWait: its
// command was stopped, and the call fails rather than answer output with
// a hole in it.
const CodeOutputBudget = "E_OUTPUT_BUDGET"

// DefaultMaxBufferedOutputTotal bounds the output buffered exec and
// runCode hold across all sandboxes: four calls at the per-call cap on
// both streams (2 × 32 MiB each).
const DefaultMaxBufferedOutputTotal int64 = 256 << 20

// DefaultBufferedOutputWait is how long a buffered call's command stays
// paused for output memory that other calls hold before the call fails.
const DefaultBufferedOutputWait = 30 * time.Second

// outBlock is the most memory a buffered stream takes at once: its output
// is kept in blocks of up to this size, each charged to the budget as it
// is allocated (so the budget counts memory, and no buffer doubles).
const outBlock = 64 << 10

// outputBudget is the memory buffered exec and runCode may hold together.
type outputBudget struct {
	mu    sync.Mutex
	total int64
	left  int64
	freed chan struct{} // closed, and replaced, when memory is given back
	// holders are the calls holding some of it, stuck those of them
	// waiting for more. When every holder waits, none will give any back:
	// the last one to start waiting fails instead (see take).
	holders, stuck int
	waiting        int // calls waiting, holders or not
	// holds are the charges of calls admitted (Admit), found by their
	// call: they are given back once the answer is written.
	holds sync.Map // *sandboxserver.Call → *outputHold
}

func newOutputBudget(total int64) *outputBudget {
	return &outputBudget{total: total, left: total, freed: make(chan struct{})}
}

// budgetHook, when not nil, is told (with b.mu held) what is left and how
// many calls wait after every change: tests wait on it for the states
// they need instead of sleeping.
var budgetHook func(left int64, waiting int)

// outputHold is what one call holds of the budget.
type outputHold struct {
	b    *outputBudget
	wait time.Duration
	held int64 // guarded by b.mu
}

// take charges n bytes, waiting while other calls hold the budget: at most
// h.wait, and not past stop (the command being stopped: its timeout, the
// client gone, a destroy). n is at most outBlock, which no budget is
// smaller than. A call that fails gives back what it holds at once.
func (h *outputHold) take(n int64, stop <-chan struct{}) *sandboxserver.Error {
	b := h.b
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		if b.left >= n {
			b.left -= n
			if h.held == 0 {
				b.holders++
			}
			h.held += n
			b.notify()
			return nil
		}
		if h.held > 0 && b.stuck+1 >= b.holders {
			// Every other holder waits for memory too (or there is
			// none): nobody would give any back before the wait ran out.
			h.giveBackLocked()
			return h.exhausted("is held by this and other commands that all wait for more")
		}
		if h.held > 0 {
			b.stuck++
		}
		b.waiting++
		b.notify()
		freed := b.freed
		b.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(h.wait)
		}
		why := ""
		select {
		case <-freed:
		case <-timer.C:
			why = "stayed in use by other commands for " + h.wait.String()
		case <-stop:
			why = "was in use by other commands when this one was stopped (its timeout)"
		}
		b.mu.Lock()
		b.waiting--
		if h.held > 0 {
			b.stuck--
		}
		if why != "" && b.left < n {
			h.giveBackLocked()
			return h.exhausted(why)
		}
	}
}

// exhausted is the failure of a call that could not keep its output.
func (h *outputHold) exhausted(why string) *sandboxserver.Error {
	return sandboxserver.NewError(http.StatusServiceUnavailable, CodeOutputBudget,
		"the local sandbox backend's memory for buffered command output ("+strconv.FormatInt(h.b.total, 10)+
			" bytes across all sandboxes) "+why+
			": this command was stopped with its output incomplete and may have done part of its work; "+
			"check before running it again, and use execStream for large output")
}

// release gives back everything h holds.
func (h *outputHold) release() {
	h.b.mu.Lock()
	h.giveBackLocked()
	h.b.mu.Unlock()
}

func (h *outputHold) giveBackLocked() {
	b := h.b
	if h.held == 0 {
		return
	}
	b.left += h.held
	b.holders--
	h.held = 0
	close(b.freed)
	b.freed = make(chan struct{})
	b.notify()
}

func (b *outputBudget) notify() {
	if budgetHook != nil {
		budgetHook(b.left, b.waiting)
	}
}

// Admit holds, for a buffered exec or runCode, the output memory its
// answer takes until the answer is written: sandboxserver calls release
// once it is.
func (b backend) Admit(_ *http.Request, c *sandboxserver.Call) (func(), *sandboxserver.Error) {
	if c.Op != "exec" && c.Op != "runCode" {
		return nil, nil
	}
	ob := b.s.outBudget
	h := &outputHold{b: ob, wait: b.s.opts.BufferedOutputWait}
	ob.holds.Store(c, h)
	return func() {
		ob.holds.Delete(c)
		h.release()
	}, nil
}

// holdFor returns the hold Admit made for c, or, for a call that was not
// admitted, a new one and the func that gives it back.
func (s *Server) holdFor(c *sandboxserver.Call) (*outputHold, func()) {
	if h, ok := s.outBudget.holds.Load(c); ok {
		return h.(*outputHold), func() {}
	}
	h := &outputHold{b: s.outBudget, wait: s.opts.BufferedOutputWait}
	return h, h.release
}
