//go:build unix

package interactive_test

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/interactive"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
)

// recorded starts the local backend (the handler of `nimbus dev`) behind
// sandboxtest, which records the requests it serves, and returns it with
// a handle on sandbox job-1.
func recorded(t *testing.T) (*sandboxtest.Server, *sc.Sandbox) {
	t.Helper()
	srv := sandboxtest.New(sandboxtest.Options{})
	t.Cleanup(srv.Close)
	c, err := sc.New(sc.Options{Endpoint: srv.URL, Tokens: sc.StaticToken(srv.Token(sandboxtest.Identity{Tenant: "acme", Scopes: []string{"sandbox:use"}}))})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.Sandbox("job-1", sc.SandboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return srv, sb
}

// attached is an attach on a fake clock, as sandboxtest.Paced runs it.
func attached(sb *sc.Sandbox, pid int64, o interactive.AttachOptions) sandboxtest.Follow {
	return func(ctx context.Context, after func(time.Duration) <-chan time.Time, stdout io.Writer) (*sc.LogExit, error) {
		if o.Terminal != nil {
			o.Terminal.Out = stdout
		} else {
			o.Stdout = stdout
		}
		r, err := interactive.AttachAt(ctx, sb, pid, o, after)
		if r == nil {
			return nil, err
		}
		return r.Exit, err
	}
}

// An attach whose standard input is at its end (</dev/null) to a process
// that is still running and quiet must not poll processLogs every
// interval for as long as the process runs, ten requests a second, about
// 1% of a CPU: once the end of the input was sent, it backs off as
// sandboxtest.CheckIdleBackoff says, the scenario logs -f runs too. Until
// then it polls every interval.
func TestIdleAttachPollsLessAndLess(t *testing.T) {
	const interval = 100 * time.Millisecond
	srv, sb := recorded(t)
	srv.CheckIdleBackoff(t, testCtx(t), sb, interval, func(pid int64) sandboxtest.Follow {
		return attached(sb, pid, interactive.AttachOptions{In: strings.NewReader(""), Stderr: io.Discard, Interval: interval})
	}, func(ops []string) error {
		if !slices.Contains(ops, "endProcessInput") {
			return fmt.Errorf("before the input's end was sent: %q", ops)
		}
		return nil
	})
}

// On a terminal, Ctrl-D ends the input and the polling slows down as
// above; Ctrl-C then sends SIGINT and cuts the long wait in progress
// short: the next poll comes an interval later, not up to IdleInterval,
// to show the process's answer to the signal (here its exit, code 8).
func TestIdleAttachInterruptPollsAtOnce(t *testing.T) {
	const interval = 100 * time.Millisecond
	srv, sb := recorded(t)
	ctx := testCtx(t)
	pid := sandboxtest.StartQuiet(t, ctx, sb, `trap 'kill $! 2>/dev/null; exit 8' INT`)
	keys, typed := io.Pipe()
	defer typed.Close()
	p := sandboxtest.StartPaced(t, ctx, attached(sb, pid, interactive.AttachOptions{Terminal: &interactive.Terminal{In: keys}, Interval: interval}))
	go func() { _, _ = typed.Write([]byte{4}) }() // Ctrl-D
	w := p.Next()
	for polls := 0; w.D < interactive.IdleInterval; polls++ {
		if polls > 600 {
			t.Fatalf("after Ctrl-D the attach still waits %v between polls; endProcessInput sent: %v", w.D, slices.Contains(srv.Ops(), "endProcessInput"))
		}
		w.Fire()
		w = p.Next()
	}
	// A long wait is in progress: Ctrl-C ends it within an interval.
	go func() { _, _ = typed.Write([]byte{3}) }()
	if w = p.Next(); w.D != interval {
		t.Fatalf("after Ctrl-C a wait of %v, want %v", w.D, interval)
	}
	if !slices.Contains(srv.Ops(), "signalProcess") {
		t.Fatal("Ctrl-C sent no signal")
	}
	w.Fire()
	if exit, err := p.End(); err != nil || exit == nil || exit.Code != 8 {
		t.Fatalf("%+v %v, output %q", exit, err, p.Stdout())
	}
}
