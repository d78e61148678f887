//go:build unix

package sandboxclient_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
)

// fakeWait is one wait of a Pacer on a fake clock.
type fakeWait struct {
	d time.Duration
	c chan time.Time
}

// A follow that sends the process nothing (logs -f) with an idle Pacer
// must not poll processLogs every interval for as long as a quiet process
// runs, a request every poll: each poll that brings nothing waits twice as
// long as the one before, up to IdleInterval. Output after the quiet time
// is still all there (read by cursor), polling goes back to the interval
// after it, and the exit passes its code through. The polling runs on a
// fake clock, every wait handed to the test, against the real local
// backend behind sandboxtest, whose requests are counted: no sleep
// decides anything.
func TestIdlePacedFollowPollsLessAndLess(t *testing.T) {
	const interval = 100 * time.Millisecond
	srv := newFake(t, sandboxtest.Options{})
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	x := ctx(t)
	// USR1 makes it write a line, TERM exit 7; otherwise it sleeps. (Its
	// shell may say on stderr that a sleep was killed by the signal.)
	p, err := sb.StartProcess(x, `trap 'kill $! 2>/dev/null; echo woke' USR1; trap 'kill $! 2>/dev/null; exit 7' TERM; echo ready; while :; do sleep 600 & wait $!; done`, sc.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errReady := errors.New("ready")
	if _, err := sb.FollowLogs(x, p.PID, 0, 25*time.Millisecond, func(l *sc.Logs) error {
		if strings.Contains(l.Text, "ready\n") {
			return errReady
		}
		return nil
	}); err != errReady {
		t.Fatalf("the process did not get ready: %v", err)
	}

	waits := make(chan fakeWait)
	after := func(d time.Duration) <-chan time.Time {
		c := make(chan time.Time, 1)
		select {
		case waits <- fakeWait{d, c}:
		case <-x.Done():
		}
		return c
	}
	var mu sync.Mutex
	var out strings.Builder
	stdout := func() string {
		mu.Lock()
		defer mu.Unlock()
		return out.String()
	}
	type result struct {
		exit *sc.LogExit
		err  error
	}
	done := make(chan result, 1)
	srv.ResetRequests()
	go func() {
		// What logs -f does, on the fake clock.
		pace := sc.NewPacer(interval, true, after)
		exit, err := sb.FollowLogsPaced(x, p.PID, 0, pace.Wait, func(l *sc.Logs) error {
			mu.Lock()
			defer mu.Unlock()
			for _, c := range l.Chunks {
				if c.Stream == "stdout" {
					out.WriteString(c.Data)
				}
			}
			return nil
		})
		done <- result{exit, err}
	}()
	var now time.Duration // the fake clock
	next := func() fakeWait {
		t.Helper()
		select {
		case w := <-waits:
			now += w.d
			return w
		case r := <-done:
			t.Fatalf("the follow ended: %+v, %v; output %q", r.exit, r.err, stdout())
		case <-x.Done():
			t.Fatal(x.Err())
		}
		panic("unreachable")
	}

	// After the poll that brought the earlier output, waits of the
	// interval, then longer ones. A follow that never slows down fails
	// here, after a minute of fake time.
	var w fakeWait
	for w = next(); w.d <= interval; w = next() {
		if now > time.Minute {
			t.Fatalf("after %v of following a quiet process it still polls every %v; %d requests", now, w.d, len(srv.Ops()))
		}
		w.c <- time.Time{}
	}
	// From here 20 s of a quiet process, each wait double the last up to
	// IdleInterval, one poll after each: at a poll every interval that
	// was 200 requests.
	start, requests := now, len(srv.Ops())
	want := 2 * interval
	for now-start < 20*time.Second {
		if w.d != want {
			t.Fatalf("at %v of idle: a wait of %v, want %v", now-start, w.d, want)
		}
		want = min(2*want, sc.IdleInterval)
		w.c <- time.Time{}
		w = next()
	}
	n := len(srv.Ops()) - requests
	if n > 13 {
		t.Fatalf("%d requests over %v of an idle follow, want at most 13", n, now-start)
	}
	t.Logf("%d requests over %v of an idle follow", n, now-start)

	// Output after the quiet time is shown, and the polls go back to the
	// interval after it.
	if _, err := sb.SignalProcess(x, p.PID, "SIGUSR1"); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(stdout(), "woke\n") {
		w.c <- time.Time{}
		w = next()
	}
	if w.d != interval {
		t.Fatalf("the wait after output is %v, want %v", w.d, interval)
	}

	// And the exit ends the follow with the process's code.
	if _, err := sb.SignalProcess(x, p.PID, "SIGTERM"); err != nil {
		t.Fatal(err)
	}
	w.c <- time.Time{}
	for {
		select {
		case w := <-waits:
			w.c <- time.Time{}
			continue
		case r := <-done:
			if r.err != nil || r.exit == nil || r.exit.Code != 7 || stdout() != "ready\nwoke\n" {
				t.Fatalf("%+v %v, output %q", r.exit, r.err, stdout())
			}
		case <-x.Done():
			t.Fatal(x.Err())
		}
		break
	}
}
