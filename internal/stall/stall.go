// Package stall bounds how long a transfer may go without progress. An
// overall timeout cannot tell a slow upload of a large file from a dead
// connection; a watchdog that fires only when no byte moved for a while can.
package stall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// ErrStalled is returned (wrapped) when a transfer made no progress for the
// watchdog's whole period.
var ErrStalled = errors.New("no data moved")

// Watchdog cancels a context when Touch has not been called for d. It is
// used around a request: reads of the request body (upload) or the response
// body (download) call Touch. A watchdog from NewRate also asks for a
// number of bytes in each period (Progress).
type Watchdog struct {
	d       time.Duration
	min     int64 // bytes that must move in each period
	got     int64 // bytes moved since the period started
	cancel  context.CancelFunc
	mu      sync.Mutex
	timer   *time.Timer
	fired   bool
	stopped bool
}

// New returns a context derived from ctx and a watchdog that cancels it after
// d without progress. Stop must be called when the transfer ends.
func New(ctx context.Context, d time.Duration) (context.Context, *Watchdog) {
	return NewRate(ctx, d, 1)
}

// NewRate is New for a transfer that must also keep a pace: a period of d
// ends the transfer unless min bytes moved in it. A peer that drips a byte
// now and then never goes silent for d, and would otherwise hold the
// caller for as long as the whole answer takes at that pace.
func NewRate(ctx context.Context, d time.Duration, min int64) (context.Context, *Watchdog) {
	ctx, cancel := context.WithCancel(ctx)
	w := &Watchdog{d: d, min: max(min, 1), cancel: cancel}
	w.timer = time.AfterFunc(d, w.fire)
	return ctx, w
}

func (w *Watchdog) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	w.fired = true
	w.cancel()
}

// Touch records progress and restarts the period.
func (w *Watchdog) Touch() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped && !w.fired {
		w.got = 0
		w.timer.Reset(w.d)
	}
}

// Progress records n bytes moved; the period restarts once the watchdog's
// minimum has moved since it started.
func (w *Watchdog) Progress(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped || w.fired || n <= 0 {
		return
	}
	if w.got += int64(n); w.got >= w.min {
		w.got = 0
		w.timer.Reset(w.d)
	}
}

// Stop ends the watchdog and releases its context.
func (w *Watchdog) Stop() {
	w.mu.Lock()
	w.stopped = true
	w.timer.Stop()
	w.mu.Unlock()
	w.cancel()
}

// Fired reports whether the watchdog cancelled the context.
func (w *Watchdog) Fired() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fired
}

// Err turns err into one wrapping ErrStalled when the watchdog fired, so a
// stall is not reported as the caller's own cancellation.
func (w *Watchdog) Err(err error) error {
	if err != nil && w.Fired() {
		return &stalledError{d: w.d, min: w.min, err: err}
	}
	return err
}

type stalledError struct {
	d   time.Duration
	min int64
	err error
}

func (e *stalledError) Error() string {
	if e.min > 1 {
		return fmt.Sprintf("less than %d bytes moved in %s", e.min, e.d)
	}
	return ErrStalled.Error() + " for " + e.d.String()
}

func (e *stalledError) Unwrap() []error { return []error{ErrStalled, e.err} }

// Reader returns r with every successful read counted as progress of w.
func (w *Watchdog) Reader(r io.Reader) io.Reader { return &reader{r: r, w: w} }

type reader struct {
	r io.Reader
	w *Watchdog
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.w.Progress(n)
	return n, err
}
