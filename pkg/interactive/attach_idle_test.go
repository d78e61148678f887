//go:build unix

package interactive_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/interactive"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// opLog counts the requests a client makes, by op, as the server sees
// them.
type opLog struct {
	mu  sync.Mutex
	ops []string
}

func (l *opLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		var req struct {
			Op string `json:"op"`
		}
		_ = json.Unmarshal(b, &req)
		l.mu.Lock()
		l.ops = append(l.ops, req.Op)
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (l *opLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ops)
}

func (l *opLog) has(op string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, o := range l.ops {
		if o == op {
			return true
		}
	}
	return false
}

// fakeTimer is one wait of the attach's polling on a fake clock.
type fakeTimer struct {
	d time.Duration
	c chan time.Time
}

// An attach whose standard input is at its end (</dev/null) to a process
// that is still running and quiet must not poll processLogs every
// interval for as long as the process runs, ten requests a second, about
// 1% of a CPU: once the end of the input was sent, each poll that brings
// nothing waits twice as long as the one before, up to IdleInterval. It
// still shows the process's later output (and polls at the interval
// again after it) and its exit. The polling runs on a fake clock, every
// wait handed to the test, against the local backend (the handler of
// `nimbus dev`), whose requests are counted: no sleep decides anything.
func TestIdleAttachPollsLessAndLess(t *testing.T) {
	const interval = 100 * time.Millisecond
	var log opLog
	sb := backend(t, log.wrap)
	ctx := testCtx(t)
	// USR1 makes it write a line, TERM exit 7; otherwise it sleeps. (Its
	// shell may say on stderr that a sleep was killed by the signal.)
	p, err := sb.StartProcess(ctx, `trap 'kill $! 2>/dev/null; echo woke' USR1; trap 'kill $! 2>/dev/null; exit 7' TERM; echo ready; while :; do sleep 600 & wait $!; done`, sc.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Its traps are set once it said so.
	errReady := errors.New("ready")
	if _, err := sb.FollowLogs(ctx, p.PID, 0, 25*time.Millisecond, func(l *sc.Logs) error {
		if strings.Contains(l.Text, "ready\n") {
			return errReady
		}
		return nil
	}); err != errReady {
		t.Fatalf("the process did not get ready: %v", err)
	}
	waits := make(chan fakeTimer)
	after := func(d time.Duration) <-chan time.Time {
		c := make(chan time.Time, 1)
		select {
		case waits <- fakeTimer{d, c}:
		case <-ctx.Done():
		}
		return c
	}
	out := newSyncBuffer()
	type result struct {
		r   *interactive.AttachResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := interactive.AttachAt(ctx, sb, p.PID, interactive.AttachOptions{In: strings.NewReader(""), Stdout: out, Stderr: io.Discard, Interval: interval}, after)
		done <- result{r, err}
	}()
	var now time.Duration // the fake clock
	next := func() fakeTimer {
		t.Helper()
		select {
		case w := <-waits:
			now += w.d
			return w
		case r := <-done:
			t.Fatalf("attach ended: %+v, %v; output %q", r.r, r.err, out.String())
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
		panic("unreachable")
	}

	// Until the input's end is confirmed the attach polls every interval
	// (a real round trip away); then the waits grow. An attach that never
	// slows down fails here, after a minute of fake time.
	var w fakeTimer
	for w = next(); w.d <= interval; w = next() {
		if now > time.Minute {
			t.Fatalf("after %v of an attach whose input ended (endProcessInput sent: %v) it still polls every %v; %d requests", now, log.has("endProcessInput"), w.d, log.count())
		}
		w.c <- time.Time{}
	}
	if !log.has("endProcessInput") {
		t.Fatal("the polling slowed down before the input's end was sent")
	}
	// From here: 20 s of a quiet process, each wait double the last up
	// to IdleInterval, one poll after each. At a poll every interval that
	// was 200 requests.
	start, requests := now, log.count()
	want := 2 * interval
	for now-start < 20*time.Second {
		if w.d != want {
			t.Fatalf("at %v of idle: a wait of %v, want %v", now-start, w.d, want)
		}
		want = min(2*want, interactive.IdleInterval)
		w.c <- time.Time{}
		w = next()
	}
	n := log.count() - requests
	if n > 13 {
		t.Fatalf("%d requests over %v of an idle attach, want at most 13", n, now-start)
	}
	t.Logf("%d requests over %v of an idle attach", n, now-start)

	// Output is shown, and polling goes back to the interval after it.
	if _, err := sb.SignalProcess(ctx, p.PID, "SIGUSR1"); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(out.String(), "woke\n") {
		w.c <- time.Time{}
		w = next()
	}
	if w.d != interval {
		t.Fatalf("the wait after output is %v, want %v", w.d, interval)
	}

	// And the exit ends the attach with the process's code.
	if _, err := sb.SignalProcess(ctx, p.PID, "SIGTERM"); err != nil {
		t.Fatal(err)
	}
	w.c <- time.Time{}
	for {
		select {
		case w := <-waits:
			w.c <- time.Time{}
			continue
		case r := <-done:
			if r.err != nil || r.r.Exit == nil || r.r.Exit.Code != 7 || out.String() != "ready\nwoke\n" {
				t.Fatalf("%+v %v, output %q", r.r, r.err, out.String())
			}
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
		break
	}
}

// On a terminal, Ctrl-D ends the input and the polling slows down as
// above; Ctrl-C then sends SIGINT and cuts the long wait in progress
// short: the next poll comes an interval later, not up to IdleInterval,
// to show the process's answer to the signal (here its exit, code 8).
func TestIdleAttachInterruptPollsAtOnce(t *testing.T) {
	const interval = 100 * time.Millisecond
	var log opLog
	sb := backend(t, log.wrap)
	ctx := testCtx(t)
	p, err := sb.StartProcess(ctx, `trap 'kill $! 2>/dev/null; exit 8' INT; echo ready; while :; do sleep 600 & wait $!; done`, sc.StartOptions{})
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
	waits := make(chan fakeTimer)
	after := func(d time.Duration) <-chan time.Time {
		c := make(chan time.Time, 1)
		select {
		case waits <- fakeTimer{d, c}:
		case <-ctx.Done():
		}
		return c
	}
	keys, typed := io.Pipe()
	defer typed.Close()
	out := newSyncBuffer()
	type result struct {
		r   *interactive.AttachResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := interactive.AttachAt(ctx, sb, p.PID, interactive.AttachOptions{Terminal: &interactive.Terminal{In: keys, Out: out}, Interval: interval}, after)
		done <- result{r, err}
	}()
	next := func() fakeTimer {
		t.Helper()
		select {
		case w := <-waits:
			return w
		case r := <-done:
			t.Fatalf("attach ended: %+v, %v; output %q", r.r, r.err, out.String())
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
		panic("unreachable")
	}
	go func() { _, _ = typed.Write([]byte{4}) }() // Ctrl-D
	w := next()
	for polls := 0; w.d < interactive.IdleInterval; polls++ {
		if polls > 600 {
			t.Fatalf("after Ctrl-D the attach still waits %v between polls; endProcessInput sent: %v", w.d, log.has("endProcessInput"))
		}
		w.c <- time.Time{}
		w = next()
	}
	// A long wait is in progress: Ctrl-C ends it within an interval.
	go func() { _, _ = typed.Write([]byte{3}) }()
	if w2 := next(); w2.d != interval {
		t.Fatalf("after Ctrl-C a wait of %v, want %v", w2.d, interval)
	} else {
		w = w2
	}
	if !log.has("signalProcess") {
		t.Fatal("Ctrl-C sent no signal")
	}
	for {
		w.c <- time.Time{}
		select {
		case w = <-waits:
			continue
		case r := <-done:
			if r.err != nil || r.r.Exit == nil || r.r.Exit.Code != 8 {
				t.Fatalf("%+v %v, output %q", r.r, r.err, out.String())
			}
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
		break
	}
}
