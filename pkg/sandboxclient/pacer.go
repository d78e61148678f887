package sandboxclient

import (
	"context"
	"sync"
	"time"
)

// IdleInterval is the longest wait between two polls of a Pacer that is
// idle (a follow of a quiet process that will be sent nothing): its exit
// or next output shows at most this late, and following it costs one
// request every IdleInterval instead of one every interval.
const IdleInterval = 2 * time.Second

// Pacer times the polls of FollowLogsPaced (pass its Wait): every
// interval while output flows and while it is not idle; once idle, each
// poll that brings nothing waits twice as long as the one before, up to
// IdleInterval (or the interval when longer). Output, and Wake, bring it
// back to the interval. The protocol has no way to wait for output
// (processLogs answers at once), so a quiet follow can only poll less.
// Output is still read by cursor: a slower poll misses nothing, it only
// shows it later.
type Pacer struct {
	interval, idleMax time.Duration
	after             func(time.Duration) <-chan time.Time
	// wake, buffered, asks a wait in progress to end within interval.
	wake chan struct{}

	mu    sync.Mutex
	idle  bool          // quiet polls may slow down
	next  time.Duration // the wait after the next quiet poll
	woken bool          // a wake since the last poll: the next wait is interval
}

// NewPacer returns a Pacer polling every interval (ClampInterval), idle
// from the start if idle is set (a follow that sends the process nothing,
// as logs -f), else once Idle is called (an attach whose input ended).
// after gives its timers; nil is time.After (a test passes a fake clock).
func NewPacer(interval time.Duration, idle bool, after func(time.Duration) <-chan time.Time) *Pacer {
	if after == nil {
		after = time.After
	}
	interval = ClampInterval(interval)
	return &Pacer{interval: interval, idleMax: max(interval, IdleInterval), after: after, wake: make(chan struct{}, 1), next: interval, idle: idle}
}

// Idle says nothing more will be sent to the process: quiet polls may
// slow down.
func (p *Pacer) Idle() {
	p.mu.Lock()
	p.idle = true
	p.mu.Unlock()
}

// Wake brings the polling back to interval, a wait in progress too: the
// process was sent something it may answer by output or by exiting.
func (p *Pacer) Wake() {
	p.mu.Lock()
	p.woken, p.next = true, p.interval
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Wait is the wait of FollowLogsPaced after a poll.
func (p *Pacer) Wait(ctx context.Context, output bool) error {
	p.mu.Lock()
	d := p.interval
	switch {
	case output || p.woken || !p.idle:
		p.next = p.interval
	default:
		d = p.next
		p.next = min(2*p.next, p.idleMax)
	}
	if p.woken {
		// This wait is the one the wake asked for.
		p.woken = false
		select {
		case <-p.wake:
		default:
		}
	}
	p.mu.Unlock()
	if d > p.interval {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.after(d):
			return nil
		case <-p.wake:
			// Waited long enough for what came before: wait as for a
			// poll now, for the answer to what was sent.
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-p.after(p.interval):
		return nil
	}
}
