// Package stall bounds how long a transfer may go without progress. An
// overall timeout cannot tell a slow upload of a large file from a dead
// connection; a watchdog that fires only when too few bytes moved in a
// period can.
//
// It holds the two parts every such bound is made of, so that they are
// written once: Alarm, the re-armable deadline that cancels the transfer's
// context, and Pace, the count of bytes that must move in each period
// (MinRate's share of it, for the callers that ask for a pace). Watchdog
// puts them together for a transfer that has one period from start to
// end; pkg/sandboxclient arms its own Alarm phase by phase (connect, TLS,
// upload, headers, body) and counts its answers' bytes with a Pace.
package stall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// MinRate is the slowest pace, in bytes per second measured over each
// period, that the transfers which ask for one must keep (npm downloads,
// R2 uploads, the sandbox client's answers): a peer that drips a byte now
// and then never goes silent for a whole period, and would otherwise hold
// the caller for as long as the whole transfer takes at that pace (a year
// for a 28 MiB answer at a byte a second). 2 KiB/s, 120 KiB a minute, is
// still carried by a 20 kbit/s link.
const MinRate = 2 << 10

// MinBytes is how many bytes must move in each period d at rate bytes per
// second; never less than one, so a period always asks for some progress.
func MinBytes(d time.Duration, rate int64) int64 {
	return max(1, int64(d.Seconds()*float64(rate)))
}

// ErrStalled is returned (wrapped) when a transfer made no progress for the
// watchdog's whole period.
var ErrStalled = errors.New("no data moved")

// Pace counts the bytes of the current period against Min, the bytes each
// period must bring. It holds no clock: its owner starts the period's
// deadline (an Alarm) and restarts it when Add says the quota is met.
type Pace struct {
	// Min is how many bytes each period must bring (see MinBytes).
	Min int64
	got int64
}

// Add records n bytes and reports whether the period's quota is now met;
// the count then starts over for the next period.
func (p *Pace) Add(n int) bool {
	if n <= 0 {
		return false
	}
	if p.got += int64(n); p.got >= p.Min {
		p.got = 0
		return true
	}
	return false
}

// Started reports whether some bytes, too few so far, came in the current
// period: the difference between a peer that went silent and one that
// drips.
func (p *Pace) Started() bool { return p.got > 0 }

// Reset starts a new period with nothing counted.
func (p *Pace) Reset() { p.got = 0 }

// Alarm cancels a context when the deadline of its current arming passes,
// remembering what was armed (a label such as a phase, and the limit to
// report). Each Arm replaces the previous deadline; a generation number
// keeps a timer that fires while being replaced from cancelling the new
// arming.
type Alarm struct {
	cancel context.CancelFunc

	mu    sync.Mutex
	gen   uint64
	timer *time.Timer
	fired string
	limit time.Duration
}

// NewAlarm returns an unarmed alarm that calls cancel when it goes off.
func NewAlarm(cancel context.CancelFunc) *Alarm { return &Alarm{cancel: cancel} }

// Arm gives what is labelled label d to finish, reported as a limit of
// limit (what is left of a longer bound may be shorter than the bound);
// d <= 0 disarms. Once the alarm went off it stays off.
func (a *Alarm) Arm(label string, d, limit time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fired != "" {
		return
	}
	a.gen++
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	if d <= 0 {
		return
	}
	gen := a.gen
	a.timer = time.AfterFunc(d, func() {
		a.mu.Lock()
		if a.gen != gen || a.fired != "" {
			a.mu.Unlock()
			return
		}
		a.fired, a.limit = label, limit
		a.mu.Unlock()
		a.cancel()
	})
}

// Disarm ends the current deadline.
func (a *Alarm) Disarm() { a.Arm("", 0, 0) }

// Fired returns the label and limit of the arming that went off, if any
// (label is "" when none did).
func (a *Alarm) Fired() (string, time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fired, a.limit
}

// Watchdog cancels a context when fewer than its minimum of bytes moved in
// a period of d. It is used around a request: reads of the request body
// (upload) or the response body (download) count as progress (Reader,
// Progress).
type Watchdog struct {
	d      time.Duration
	cancel context.CancelFunc
	alarm  *Alarm

	mu      sync.Mutex
	pace    Pace
	stopped bool
}

// NewRate returns a context derived from ctx and a watchdog that cancels
// it when a period of d ends with fewer than min bytes moved in it
// (MinBytes(d, MinRate) for the usual pace; 1 for "no byte for d"). A
// peer that drips a byte now and then never goes silent for d, and would
// otherwise hold the caller for as long as the whole answer takes at that
// pace. Stop must be called when the transfer ends.
func NewRate(ctx context.Context, d time.Duration, min int64) (context.Context, *Watchdog) {
	ctx, cancel := context.WithCancel(ctx)
	w := &Watchdog{d: d, cancel: cancel, alarm: NewAlarm(cancel), pace: Pace{Min: max(min, 1)}}
	w.alarm.Arm(stalledLabel, d, d)
	return ctx, w
}

// stalledLabel is what a watchdog's alarm is armed with: it has one period.
const stalledLabel = "stalled"

// Progress records n bytes moved; the period restarts once the watchdog's
// minimum has moved since it started.
func (w *Watchdog) Progress(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped && w.pace.Add(n) {
		w.alarm.Arm(stalledLabel, w.d, w.d)
	}
}

// Stop ends the watchdog and releases its context.
func (w *Watchdog) Stop() {
	w.mu.Lock()
	w.stopped = true
	w.alarm.Disarm()
	w.mu.Unlock()
	w.cancel()
}

// Fired reports whether the watchdog cancelled the context.
func (w *Watchdog) Fired() bool {
	label, _ := w.alarm.Fired()
	return label != ""
}

// Err turns err into one wrapping ErrStalled when the watchdog fired, so a
// stall is not reported as the caller's own cancellation.
func (w *Watchdog) Err(err error) error {
	if err != nil && w.Fired() {
		return &stalledError{d: w.d, min: w.pace.Min, err: err}
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
