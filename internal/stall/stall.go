// Package stall bounds how long a transfer may go without progress. An
// overall timeout cannot tell a slow upload of a large file from a dead
// connection; a watchdog that fires only when no byte moved for a while can.
package stall

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"
)

// ErrStalled is returned (wrapped) when a transfer made no progress for the
// watchdog's whole period.
var ErrStalled = errors.New("no data moved")

// Watchdog cancels a context when Touch has not been called for d. It is
// used around a request: reads of the request body (upload) or the response
// body (download) call Touch.
type Watchdog struct {
	d       time.Duration
	cancel  context.CancelFunc
	mu      sync.Mutex
	timer   *time.Timer
	fired   bool
	stopped bool
}

// New returns a context derived from ctx and a watchdog that cancels it after
// d without progress. Stop must be called when the transfer ends.
func New(ctx context.Context, d time.Duration) (context.Context, *Watchdog) {
	ctx, cancel := context.WithCancel(ctx)
	w := &Watchdog{d: d, cancel: cancel}
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
		return &stalledError{d: w.d, err: err}
	}
	return err
}

type stalledError struct {
	d   time.Duration
	err error
}

func (e *stalledError) Error() string {
	return ErrStalled.Error() + " for " + e.d.String()
}

func (e *stalledError) Unwrap() []error { return []error{ErrStalled, e.err} }

// Reader returns r with every successful read touching w.
func (w *Watchdog) Reader(r io.Reader) io.Reader { return &reader{r: r, w: w} }

type reader struct {
	r io.Reader
	w *Watchdog
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.w.Touch()
	}
	return n, err
}
