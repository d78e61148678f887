//go:build linux

package cmd_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/creack/pty"

	"github.com/nimbus-sh/nimbus/internal/proctest"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// These tests run `nimbus session attach` (this test binary acting as
// nimbus) on a pseudo-terminal, as a user at a terminal would, against the
// real `nimbus dev` in its own process, and check that the terminal's
// settings (stty -g) are what they were after every way it ends.

// attachToken mints a token of the dev server for session id.
func attachToken(t testing.TB, id string, scopes ...string) string {
	t.Helper()
	tn := "local"
	in := token.Input{Tenant: &tn, Scopes: scopes}
	if id != "" {
		in.SessionID = &id
	}
	tok, err := token.Issuer{Secret: devSecret}.Mint(in)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// ptyRun is a nimbus process on a terminal of its own.
type ptyRun struct {
	t      *testing.T
	cmd    *exec.Cmd
	ptmx   *os.File
	tty    *os.File
	before string // stty -g before the run

	mu   sync.Mutex
	out  bytes.Buffer
	wake chan struct{}
	done chan struct{}
	code int
}

func sttyG(t *testing.T, tty *os.File) string {
	t.Helper()
	c := exec.Command("stty", "-g")
	c.Stdin = tty
	out, err := c.Output()
	if err != nil {
		t.Fatalf("stty -g: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// attachOnPTY starts `nimbus ARGS…` on a new 100x30 terminal, as the
// leader of its session (the terminal's hangup and window changes reach
// it as they would from a terminal emulator).
func attachOnPTY(t *testing.T, env []string, args ...string) *ptyRun {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	if err := pty.Setsize(ptmx, &pty.Winsize{Cols: 100, Rows: 30}); err != nil {
		t.Fatal(err)
	}
	r := &ptyRun{t: t, ptmx: ptmx, tty: tty, wake: make(chan struct{}, 1), done: make(chan struct{})}
	r.before = sttyG(t, tty)
	r.cmd = &exec.Cmd{Path: os.Args[0], Args: append([]string{"nimbus"}, args...), Env: env,
		Stdin: tty, Stdout: tty, Stderr: tty, SysProcAttr: &syscall.SysProcAttr{Setsid: true, Setctty: true}}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := ptmx.Read(buf)
			r.mu.Lock()
			r.out.Write(buf[:n])
			r.mu.Unlock()
			select {
			case r.wake <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		err := r.cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			r.code = ee.ExitCode()
		}
		close(r.done)
	}()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.done
		ptmx.Close()
		tty.Close()
	})
	return r
}

func (r *ptyRun) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.String()
}

func (r *ptyRun) waitFor(want string) {
	r.t.Helper()
	deadline := time.After(30 * time.Second)
	for !strings.Contains(r.output(), want) {
		select {
		case <-r.wake:
		case <-deadline:
			r.t.Fatalf("the terminal never showed %q:\n%q", want, r.output())
		}
	}
}

func (r *ptyRun) keys(s string) {
	r.t.Helper()
	if _, err := r.ptmx.Write([]byte(s)); err != nil {
		r.t.Fatal(err)
	}
}

// exit waits for the process and checks its code and that the terminal
// is as it found it.
func (r *ptyRun) exit(want int) string {
	r.t.Helper()
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		r.t.Fatalf("nimbus did not exit; terminal:\n%q", r.output())
	}
	// Everything the process wrote is read before the output is judged:
	// a mark written to the terminal once it has ended comes out after
	// all of it (a terminal keeps the order of what is written to it),
	// however slowly the reader runs.
	const mark = "<nimbus-test: the run ended>"
	if _, err := r.tty.Write([]byte(mark)); err != nil {
		r.t.Fatal(err)
	}
	r.waitFor(mark)
	out, _, _ := strings.Cut(r.output(), mark)
	if r.code != want {
		r.t.Fatalf("exit %d, want %d; terminal:\n%q", r.code, want, out)
	}
	if after := sttyG(r.t, r.tty); after != r.before {
		r.t.Fatalf("the terminal was not restored:\nbefore %s\nafter  %s", r.before, after)
	}
	return out
}

func TestSessionAttachOnATerminal(t *testing.T) {
	endpoint := startDevServer(t, devOptions{}).URL
	env := devEnv(t, endpoint, "demo", token.ScopeSessionAttach)

	// Type a command and see its output; the window size arrives on open
	// and on every change.
	a := attachOnPTY(t, env, "session", "attach", "demo")
	a.waitFor("Enter ~ . detaches")
	a.keys("PS1='$ '; echo hello-$((6*7))\r")
	a.waitFor("hello-42\r\n")
	a.keys("stty size\r")
	a.waitFor("30 100\r\n")
	if err := pty.Setsize(a.ptmx, &pty.Winsize{Cols: 120, Rows: 40}); err != nil {
		t.Fatal(err)
	}
	// SIGWINCH, the debounce, the frame: ask until the shell sees it.
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(a.output(), "40 120\r\n"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the new size never reached the shell:\n%q", a.output())
		}
		a.keys("stty size\r")
	}
	// Ctrl-C reaches the remote shell, not nimbus: once the sleep runs
	// (in the foreground: the shell made it so before exec), Ctrl-C
	// interrupts it and the shell takes the next line.
	sleep := proctest.Marker()
	a.keys("sleep " + sleep + "\r")
	proctest.WaitRunning(t, sleep)
	a.keys("\x03")
	a.keys("echo after-$((1+1))\r")
	a.waitFor("after-2\r\n")
	proctest.WaitGone(t, sleep)
	// Enter ~ . detaches: exit 0, a way back, the terminal restored.
	a.keys("\r~.")
	out := a.exit(0)
	if !strings.Contains(out, "detached from demo") || !strings.Contains(out, "nimbus session attach demo") {
		t.Fatalf("no reattach hint:\n%q", out)
	}

	// Reattaching shows the scrollback, once.
	b := attachOnPTY(t, env, "session", "attach", "demo")
	b.keys("echo back-$((2+3))\r")
	b.waitFor("back-5\r\n")
	if n := strings.Count(b.output(), "hello-42\r\n"); n != 1 {
		t.Fatalf("the scrollback is shown %d times:\n%q", n, b.output())
	}

	// A second terminal gets the 409 (exit 75) unless it waits; the
	// waiting one gets the session once the first detaches.
	busy := attachOnPTY(t, env, "session", "attach", "demo")
	out = busy.exit(75)
	if !strings.Contains(out, "E_TERMINAL_BUSY") || !strings.Contains(out, "--wait") {
		t.Fatalf("409 message:\n%q", out)
	}
	w := attachOnPTY(t, env, "session", "attach", "demo", "--wait")
	w.waitFor("waiting for it to detach")
	b.keys("\r~.")
	b.exit(0)
	w.keys("echo waited-$((3*3))\r")
	w.waitFor("waited-9\r\n")

	// Destroying the session ends the attachment with exit 0.
	destroy := exec.Command(os.Args[0], "sandbox", "destroy", "demo")
	destroy.Args[0] = "nimbus"
	destroy.Env = devEnv(t, endpoint, "demo", token.ScopeSandboxUse, token.ScopeSessionDestroy)
	if out, err := destroy.CombinedOutput(); err != nil {
		t.Fatalf("destroy: %v %s", err, out)
	}
	out = w.exit(0)
	if !strings.Contains(out, "session demo was destroyed") {
		t.Fatalf("%q", out)
	}
}

func TestSessionAttachRefusals(t *testing.T) {
	endpoint := startDevServer(t, devOptions{}).URL
	// A token without session:attach: exit 77, naming the scope.
	a := attachOnPTY(t, devEnv(t, endpoint, "demo", token.ScopeSandboxUse), "session", "attach", "demo")
	out := a.exit(77)
	if !strings.Contains(out, "E_SCOPE_MISSING") || !strings.Contains(out, "session:attach") {
		t.Fatalf("%q", out)
	}
	// Pinned to another session: 77 too.
	a = attachOnPTY(t, devEnv(t, endpoint, "other", token.ScopeSessionAttach), "session", "attach", "demo")
	if out := a.exit(77); !strings.Contains(out, "E_SESSION_PIN_MISMATCH") {
		t.Fatalf("%q", out)
	}
	// Nothing listening: 69.
	env := devEnv(t, "http://127.0.0.1:9", "demo", token.ScopeSessionAttach)
	a = attachOnPTY(t, env, "session", "attach", "demo")
	if out := a.exit(69); !strings.Contains(out, "E_TERMINAL_UNAVAILABLE") {
		t.Fatalf("%q", out)
	}
	// Bad detach keys and ids are usage errors.
	a = attachOnPTY(t, env, "session", "attach", "demo", "--detach-keys", "enter")
	a.exit(64)
	a = attachOnPTY(t, env, "session", "attach", "bad id")
	a.exit(64)
}

func TestSessionAttachSignalsRestoreTheTerminal(t *testing.T) {
	endpoint := startDevServer(t, devOptions{}).URL
	// SIGTERM exits 128+15 as for every long command; a closed terminal
	// (SIGHUP) ends it like Ctrl-C.
	for i, c := range []struct {
		sig  syscall.Signal
		exit int
	}{{syscall.SIGTERM, 143}, {syscall.SIGHUP, 130}, {syscall.SIGINT, 130}} {
		id := "sig-" + string(rune('a'+i))
		a := attachOnPTY(t, devEnv(t, endpoint, id, token.ScopeSessionAttach), "session", "attach", id)
		a.keys("echo up-$((1+1))\r")
		a.waitFor("up-2\r\n")
		if err := a.cmd.Process.Signal(c.sig); err != nil {
			t.Fatal(err)
		}
		a.exit(c.exit)
	}
}

func TestSessionAttachPipe(t *testing.T) {
	endpoint := startDevServer(t, devOptions{}).URL
	c := exec.Command(os.Args[0], "session", "attach", "piped")
	c.Args[0] = "nimbus"
	c.Env = devEnv(t, endpoint, "piped", token.ScopeSessionAttach)
	c.Stdin = strings.NewReader("echo piped-$((20+1))\nprintf 'caf\\303\\251\\n'\n")
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	start := time.Now()
	if err := c.Run(); err != nil {
		t.Fatalf("%v\nstdout %q\nstderr %q", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "piped-21") || !strings.Contains(stdout.String(), "café") {
		t.Fatalf("stdout %q\nstderr %q", stdout.String(), stderr.String())
	}
	if strings.Contains(stdout.String(), "[nimbus]") {
		t.Fatalf("notices on stdout: %q", stdout.String())
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("took %v", took)
	}
}

// TestAttachTakenOverExits1 lets another client take a silent terminal
// over (the server's owner timeout is shortened to see it quickly): the
// attached nimbus exits 1 with a message, and restores the terminal.
func TestAttachTakenOverExits1(t *testing.T) {
	dev := startDevServer(t, devOptions{InProcess: true, Backend: func(o *localsandbox.Options) { o.TerminalOwnerTimeout = 500 * time.Millisecond }})
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NIMBUS_ENDPOINT=" + dev.URL,
		"NIMBUS_TOKEN=" + attachToken(t, "demo", token.ScopeSessionAttach), "NO_COLOR=1"}
	a := attachOnPTY(t, env, "session", "attach", "demo")
	a.keys("echo first-$((1+1))\r")
	a.waitFor("first-2\r\n")
	time.Sleep(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(dev.URL, "http")+"/s/demo/ws",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + attachToken(t, "demo", token.ScopeSessionAttach)}}})
	if err != nil {
		body := ""
		if resp != nil {
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
		}
		t.Fatalf("takeover: %v %s", err, body)
	}
	defer ws.CloseNow()
	out := a.exit(1)
	if !strings.Contains(out, "E_TERMINAL_TAKEN_OVER") || !strings.Contains(out, "terminal taken over") {
		t.Fatalf("%q", out)
	}
}
