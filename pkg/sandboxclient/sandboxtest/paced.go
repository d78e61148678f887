package sandboxtest

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// StartQuiet starts in sb a process that sets traps (shell trap commands;
// a trap should first `kill $! 2>/dev/null`, the sleep in progress), says
// "ready" and then sleeps until a trap ends it, and returns its pid once
// "ready" is in its log: its traps are set. (Its shell may say on stderr
// that a sleep was killed by a signal.)
func StartQuiet(t testing.TB, ctx context.Context, sb *sc.Sandbox, traps string) int64 {
	t.Helper()
	p, err := sb.StartProcess(ctx, traps+"; echo ready; while :; do sleep 600 & wait $!; done", sc.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errReady := errors.New("ready")
	if _, err := sb.FollowLogs(ctx, p.PID, 0, 25*time.Millisecond, func(l *sc.Logs) error {
		if strings.Contains(l.Text, "ready\n") {
			return errReady
		}
		return nil
	}); err != errReady {
		t.Fatalf("the process did not get ready: %v", err)
	}
	return p.PID
}

// Follow is a follow of a process (logs -f's FollowLogsPaced, an attach)
// paced by a sandboxclient.Pacer that takes its timers from after. It
// writes the process's stdout to stdout and returns the process's exit.
type Follow func(ctx context.Context, after func(time.Duration) <-chan time.Time, stdout io.Writer) (*sc.LogExit, error)

// Wait is one wait of a Paced follow.
type Wait struct {
	// D is how long the Pacer asked to wait.
	D time.Duration
	c chan time.Time
}

// Fire ends the wait.
func (w Wait) Fire() { w.c <- time.Time{} }

// Paced is a follow running on a fake clock: each wait of its Pacer is
// handed to the test (Next), which ends it (Wait.Fire). No sleep decides
// anything.
type Paced struct {
	t     testing.TB
	ctx   context.Context
	waits chan Wait
	done  chan struct{}
	exit  *sc.LogExit
	err   error

	mu  sync.Mutex
	out strings.Builder

	// Now is the fake time: the sum of the waits handed out so far.
	Now time.Duration
}

// StartPaced runs follow in a goroutine on a fake clock.
func StartPaced(t testing.TB, ctx context.Context, follow Follow) *Paced {
	p := &Paced{t: t, ctx: ctx, waits: make(chan Wait), done: make(chan struct{})}
	after := func(d time.Duration) <-chan time.Time {
		c := make(chan time.Time, 1)
		select {
		case p.waits <- Wait{d, c}:
		case <-ctx.Done():
		}
		return c
	}
	go func() {
		defer close(p.done)
		p.exit, p.err = follow(ctx, after, p)
	}()
	return p
}

// Write is the follow's stdout.
func (p *Paced) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// Stdout is what the follow wrote so far.
func (p *Paced) Stdout() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Next returns the follow's next wait; the follow ending first fails the
// test.
func (p *Paced) Next() Wait {
	p.t.Helper()
	select {
	case w := <-p.waits:
		p.Now += w.D
		return w
	case <-p.done:
		p.t.Fatalf("the follow ended: %+v, %v; output %q", p.exit, p.err, p.Stdout())
	case <-p.ctx.Done():
		p.t.Fatal(p.ctx.Err())
	}
	panic("unreachable")
}

// End ends every wait until the follow returns, and returns its result.
func (p *Paced) End() (*sc.LogExit, error) {
	p.t.Helper()
	for {
		select {
		case w := <-p.waits:
			w.Fire()
		case <-p.done:
			return p.exit, p.err
		case <-p.ctx.Done():
			p.t.Fatal(p.ctx.Err())
		}
	}
}

// CheckIdleBackoff is the back-off every follow of a quiet process that
// will be sent nothing more must show (sandboxclient.Pacer's, idle):
// rather than a poll of processLogs every interval, a request each, for
// as long as the process runs, each poll that brings nothing waits twice
// as long as the one before, up to sandboxclient.IdleInterval. Output
// after the quiet time is still all there (read by cursor), polling goes
// back to the interval after it, and the exit passes its code through.
// follow, on a fake clock, follows a process of sb in the backend of s;
// the requests s records are counted. slowed, when not nil, is called
// with the ops served when the waits first grow: an error from it fails
// the test (an attach must have sent the end of its input by then).
func (s *Server) CheckIdleBackoff(t *testing.T, ctx context.Context, sb *sc.Sandbox, interval time.Duration, follow func(pid int64) Follow, slowed func(ops []string) error) {
	t.Helper()
	// USR1 makes it write a line, TERM exit 7; otherwise it sleeps.
	pid := StartQuiet(t, ctx, sb, `trap 'kill $! 2>/dev/null; echo woke' USR1; trap 'kill $! 2>/dev/null; exit 7' TERM`)
	s.ResetRequests()
	p := StartPaced(t, ctx, follow(pid))

	// After the poll that brought the earlier output, waits of the
	// interval (an attach's until the input's end is confirmed, a round
	// trip away), then longer ones. A follow that never slows down fails
	// here, after a minute of fake time.
	var w Wait
	for w = p.Next(); w.D <= interval; w = p.Next() {
		if p.Now > time.Minute {
			ops := s.Ops()
			t.Fatalf("after %v of following a quiet process it still polls every %v; %d requests, of %q", p.Now, w.D, len(ops), distinct(ops))
		}
		w.Fire()
	}
	if slowed != nil {
		if err := slowed(s.Ops()); err != nil {
			t.Fatalf("the polling slowed down: %v", err)
		}
	}
	// From here 20 s of a quiet process, each wait double the last up to
	// IdleInterval, one poll after each: at a poll every interval that
	// was 200 requests.
	start, requests := p.Now, len(s.Ops())
	want := 2 * interval
	for p.Now-start < 20*time.Second {
		if w.D != want {
			t.Fatalf("at %v of idle: a wait of %v, want %v", p.Now-start, w.D, want)
		}
		want = min(2*want, sc.IdleInterval)
		w.Fire()
		w = p.Next()
	}
	n := len(s.Ops()) - requests
	if n > 13 {
		t.Fatalf("%d requests over %v of an idle follow, want at most 13", n, p.Now-start)
	}
	t.Logf("%d requests over %v of an idle follow", n, p.Now-start)

	// Output after the quiet time is shown, and the polls go back to the
	// interval after it.
	if _, err := sb.SignalProcess(ctx, pid, "SIGUSR1"); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(p.Stdout(), "woke\n") {
		w.Fire()
		w = p.Next()
	}
	if w.D != interval {
		t.Fatalf("the wait after output is %v, want %v", w.D, interval)
	}

	// And the exit ends the follow with the process's code.
	if _, err := sb.SignalProcess(ctx, pid, "SIGTERM"); err != nil {
		t.Fatal(err)
	}
	w.Fire()
	if exit, err := p.End(); err != nil || exit == nil || exit.Code != 7 || p.Stdout() != "ready\nwoke\n" {
		t.Fatalf("%+v %v, output %q", exit, err, p.Stdout())
	}
}

// distinct is ops without repeats, sorted.
func distinct(ops []string) []string {
	ops = slices.Clone(ops)
	slices.Sort(ops)
	return slices.Compact(ops)
}
