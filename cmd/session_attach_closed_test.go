//go:build linux

package cmd_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/nimbus-sh/nimbus/pkg/token"
)

// pipedAttach is `nimbus session attach ID` with standard input a pipe
// the test holds, against a real nimbus dev.
type pipedAttach struct {
	t              *testing.T
	cmd            *exec.Cmd
	in             io.WriteCloser
	stdout, stderr *lockedBuffer
	done           chan struct{}
	err            error
}

func startPipedAttach(t *testing.T, endpoint, id string, flags ...string) *pipedAttach {
	t.Helper()
	c := exec.Command(os.Args[0], append([]string{"session", "attach", id}, flags...)...)
	c.Args[0] = "nimbus"
	c.Env = devEnv(t, endpoint, id, token.ScopeSessionAttach)
	a := &pipedAttach{t: t, cmd: c, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	c.Stdout, c.Stderr = a.stdout, a.stderr
	in, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	a.in = in
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.err = c.Wait(); close(a.done) }()
	t.Cleanup(func() {
		_ = c.Process.Kill()
		<-a.done
	})
	return a
}

func (a *pipedAttach) send(s string) {
	a.t.Helper()
	if _, err := io.WriteString(a.in, s); err != nil {
		a.t.Fatal(err)
	}
}

// waitFor waits until stdout holds want, or nimbus exits.
func (a *pipedAttach) waitFor(want string) {
	a.t.Helper()
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(a.stdout.String(), want) {
		select {
		case <-a.done:
			a.t.Fatalf("nimbus exited (%v) before printing %q\nstdout %q\nstderr %q", a.err, want, a.stdout, a.stderr)
		case <-deadline:
			a.t.Fatalf("no %q within 30s\nstdout %q\nstderr %q", want, a.stdout, a.stderr)
		case <-tick.C:
		}
	}
}

// exit waits for nimbus to exit, within bound, and returns its code.
func (a *pipedAttach) exit(bound time.Duration) int {
	a.t.Helper()
	select {
	case <-a.done:
	case <-time.After(bound):
		a.t.Fatalf("nimbus did not exit within %s\nstdout %q\nstderr %q", bound, a.stdout, a.stderr)
	}
	var ee *exec.ExitError
	if a.err != nil && !errors.As(a.err, &ee) {
		a.t.Fatal(a.err)
	}
	return a.cmd.ProcessState.ExitCode()
}

// destroySandbox destroys id on the dev server through the CLI.
func destroySandbox(t *testing.T, endpoint, id string) {
	t.Helper()
	c := exec.Command(os.Args[0], "sandbox", "destroy", id)
	c.Args[0] = "nimbus"
	c.Env = devEnv(t, endpoint, id, token.ScopeSandboxUse, token.ScopeSessionDestroy)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("destroy: %v\n%s", err, out)
	}
}

// A script driving a shell through session attach gets exit 0 only when
// its work was seen through. The real nimbus dev closes the terminal
// normally (1000 "session destroyed") when the session is destroyed:
// before the script's input ended, or while its commands still print,
// that is not a success (attach exited 0 for both), but exit 69 with
// E_TERMINAL_CLOSED_EARLY, as a truncated exec stream. The shell
// exiting after the whole input arrived stays exit 0.
func TestSessionAttachPipeClosedEarly(t *testing.T) {
	endpoint := startDevServer(t, devOptions{}).URL

	t.Run("input not ended", func(t *testing.T) {
		a := startPipedAttach(t, endpoint, "cut-input")
		a.send("echo started-$((1+1))\n")
		a.waitFor("started-2")
		destroySandbox(t, endpoint, "cut-input")
		if code := a.exit(30 * time.Second); code != 69 {
			t.Fatalf("exit %d, want 69\nstdout %q\nstderr %q", code, a.stdout, a.stderr)
		}
		if e := a.stderr.String(); !strings.Contains(e, "E_TERMINAL_CLOSED_EARLY") || !strings.Contains(e, "session destroyed") ||
			!strings.Contains(e, "before the input ended") {
			t.Fatalf("stderr %q", e)
		}
	})

	t.Run("output going on", func(t *testing.T) {
		a := startPipedAttach(t, endpoint, "cut-output")
		a.send("i=0; while :; do i=$((i+1)); echo tick-$i; sleep 0.1; done\n")
		if err := a.in.Close(); err != nil {
			t.Fatal(err)
		}
		// Still printing, more than a second after the input ended and
		// was confirmed: the attachment goes on.
		a.waitFor("tick-15\r\n")
		destroySandbox(t, endpoint, "cut-output")
		if code := a.exit(30 * time.Second); code != 69 {
			t.Fatalf("exit %d, want 69\nstderr %q", code, a.stderr)
		}
		if e := a.stderr.String(); !strings.Contains(e, "E_TERMINAL_CLOSED_EARLY") || !strings.Contains(e, "its commands were stopped") {
			t.Fatalf("stderr %q", e)
		}
	})

	t.Run("shell exits after the input", func(t *testing.T) {
		a := startPipedAttach(t, endpoint, "shell-exits")
		a.send("echo bye-$((3+4))\nexit\n")
		if err := a.in.Close(); err != nil {
			t.Fatal(err)
		}
		if code := a.exit(30 * time.Second); code != 0 {
			t.Fatalf("exit %d, want 0\nstdout %q\nstderr %q", code, a.stdout, a.stderr)
		}
		if !strings.Contains(a.stdout.String(), "bye-7") {
			t.Fatalf("stdout %q", a.stdout)
		}
	})
}

// A deaf server accepts the terminal socket and then answers nothing:
// not the replay, not the probe that confirms the input, not a close.
// A script's attach ends within a bound, exit 69 with
// E_TERMINAL_UNAVAILABLE and a message saying the input was never
// confirmed, instead of waiting for TCP or redialling for ever: each
// connection is given up after the probe's 10 s, and redials, which
// restore nothing, stop once --reconnect (5s here, 3m by default) has
// passed since the first was lost.
func TestSessionAttachDeafServer(t *testing.T) {
	accepted := make(chan struct{}, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		accepted <- struct{}{}
		for {
			if _, _, err := ws.Read(r.Context()); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	start := time.Now()
	a := startPipedAttach(t, srv.URL, "deaf", "--reconnect", "5s")
	a.send("make deploy\n")
	if err := a.in.Close(); err != nil {
		t.Fatal(err)
	}
	code := a.exit(90 * time.Second)
	took := time.Since(start)
	if code != 69 {
		t.Fatalf("exit %d, want 69\nstdout %q\nstderr %q", code, a.stdout, a.stderr)
	}
	e := a.stderr.String()
	if !strings.Contains(e, "E_TERMINAL_UNAVAILABLE") || !strings.Contains(e, "not restored within 5s") ||
		!strings.Contains(e, "did not confirm the end of the input") {
		t.Fatalf("stderr %q", e)
	}
	if n := len(accepted); n < 2 {
		t.Fatalf("%d connections, want a redial", n)
	}
	// Two probe windows (10 s each) and the redial delays: the first
	// connection, and the redial that outlasts --reconnect.
	if took > 60*time.Second {
		t.Fatalf("took %s", took)
	}
}
