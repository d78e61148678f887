//go:build unix

package interactive_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/term"

	"github.com/nimbus-sh/nimbus/pkg/interactive"
)

// ptyTerminal opens a pseudo-terminal: the Terminal a session runs on
// (the pty's tty side) and the master the test types into and reads.
func ptyTerminal(t *testing.T) (interactive.Terminal, *os.File, *screen) {
	t.Helper()
	master, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		master.Close()
		tty.Close()
	})
	_ = pty.Setsize(tty, &pty.Winsize{Rows: 30, Cols: 100})
	scr := &screen{}
	go func() { _, _ = io.Copy(scr, master) }()
	fd := int(tty.Fd())
	return interactive.Terminal{
		In: tty, Out: tty,
		MakeRaw: func() (func() error, error) {
			st, err := term.MakeRaw(fd)
			if err != nil {
				return nil, err
			}
			return func() error { return term.Restore(fd, st) }, nil
		},
		Size: func() (int, int, error) { return term.GetSize(fd) },
	}, master, scr
}

type screen struct {
	mu   sync.Mutex
	b    bytes.Buffer
	seen int
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

var csi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

func (s *screen) expect(t *testing.T, re string) {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.mu.Lock()
		text := csi.ReplaceAllString(s.b.String(), "")
		from := min(s.seen, len(text))
		loc := rx.FindStringIndex(text[from:])
		if loc != nil {
			s.seen = from + loc[1]
		}
		s.mu.Unlock()
		if loc != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q on the terminal:\n%q", re, text)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Interact on a terminal: continued lines, Ctrl-C at the prompt, lines
// nimbus cannot run (OnError), interrupts while a command runs, and exit.
func TestInteractOnTerminal(t *testing.T) {
	sb := backend(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Fault injection: the Worker is overloaded for one line.
			b, _ := io.ReadAll(r.Body)
			if bytes.Contains(b, []byte("fail-me")) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(503)
				_, _ = io.WriteString(w, `{"ok":false,"error":"Durable Object is overloaded","code":"E_NIMBUS_DO_OVERLOADED"}`)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
			h.ServeHTTP(w, r)
		})
	})
	sh, _ := interactive.NewShell(sb, interactive.ShellOptions{})
	term, master, scr := ptyTerminal(t)
	intr := make(chan struct{}, 1)
	var mu sync.Mutex
	var reported []error
	done := make(chan int, 1)
	go func() {
		code, err := sh.Interact(testCtx(t), interactive.InteractOptions{
			Terminal: term, Interrupts: intr,
			OnError: func(err error) int {
				mu.Lock()
				reported = append(reported, err)
				mu.Unlock()
				return 125
			},
		})
		if err != nil {
			t.Error(err)
		}
		done <- code
	}()
	send := func(s string) {
		if _, err := io.WriteString(master, s); err != nil {
			t.Fatal(err)
		}
	}
	scr.expect(t, `job-1:\S*\$ $`)
	send("echo one\\\r")
	scr.expect(t, `> $`)
	send("two\r")
	scr.expect(t, `onetwo\r\njob-1:\S*\$ $`)
	// A comment ending with a backslash does not swallow the next line.
	send("# see C:\\\r")
	scr.expect(t, `job-1:\S*\$ $`)
	send("echo after-comment\r")
	scr.expect(t, `\r\nafter-comment\r\njob-1:\S*\$ $`)
	send("half typed\x03")
	scr.expect(t, `half typed\^C\r\njob-1:\S*\$ $`)
	send("echo fail-me\r")
	scr.expect(t, `job-1:\S* \[125\]\$ $`)
	send("printf no-newline\r")
	scr.expect(t, `no-newline\r?\njob-1:\S*\$ $`)
	send("echo started; sleep 30\r")
	scr.expect(t, `\nstarted\r\n`)
	intr <- struct{}{}
	scr.expect(t, `job-1:\S* \[130\]\$ $`)
	send("exit 9\r")
	select {
	case code := <-done:
		if code != 9 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Interact did not return")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 1 || !strings.Contains(reported[0].Error(), "overloaded") {
		t.Fatalf("reported %v", reported)
	}
}

// Ctrl-D on an empty line leaves with the last exit code; a cancelled
// context ends the session with its error.
func TestInteractEnds(t *testing.T) {
	sb := backend(t, nil)
	sh, _ := interactive.NewShell(sb, interactive.ShellOptions{})
	term, master, scr := ptyTerminal(t)
	done := make(chan int, 1)
	go func() {
		code, _ := sh.Interact(testCtx(t), interactive.InteractOptions{Terminal: term})
		done <- code
	}()
	scr.expect(t, `\$ $`)
	_, _ = io.WriteString(master, "(exit 6)\r")
	scr.expect(t, `\[6\]\$ $`)
	_, _ = io.WriteString(master, "\x04")
	select {
	case code := <-done:
		if code != 6 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Ctrl-D did not end the session")
	}

	ctx, cancel := context.WithCancel(testCtx(t))
	sh, _ = interactive.NewShell(sb, interactive.ShellOptions{})
	term, master, scr = ptyTerminal(t)
	errc := make(chan error, 1)
	go func() {
		_, err := sh.Interact(ctx, interactive.InteractOptions{Terminal: term})
		errc <- err
	}()
	scr.expect(t, `\$ $`)
	_, _ = io.WriteString(master, "sleep 30\r")
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("cancel did not end the session")
	}

	// At the prompt too, with no key typed: the pending read of the
	// terminal does not hold the session (SIGTERM at the prompt).
	ctx, cancel = context.WithCancel(testCtx(t))
	sh, _ = interactive.NewShell(sb, interactive.ShellOptions{})
	term, _, scr = ptyTerminal(t)
	go func() {
		_, err := sh.Interact(ctx, interactive.InteractOptions{Terminal: term})
		errc <- err
	}()
	scr.expect(t, `\$ $`)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("cancel at the prompt did not end the session")
	}
}

// Ctrl-D on a continued line runs what was typed, and the session goes
// on: the next Ctrl-D, on an empty line, leaves. The first Ctrl-D used to
// come back on every later read, so the session left right after running
// the line.
func TestInteractCtrlDOnAContinuedLine(t *testing.T) {
	sb := backend(t, nil)
	sh, _ := interactive.NewShell(sb, interactive.ShellOptions{})
	term, master, scr := ptyTerminal(t)
	done := make(chan int, 1)
	go func() {
		code, _ := sh.Interact(testCtx(t), interactive.InteractOptions{Terminal: term})
		done <- code
	}()
	scr.expect(t, `\$ $`)
	_, _ = io.WriteString(master, "echo ran-$((6*7)) \\\r")
	scr.expect(t, `> $`)
	_, _ = io.WriteString(master, "\x04")
	scr.expect(t, `ran-42`)
	scr.expect(t, `\$ $`)
	_, _ = io.WriteString(master, "(exit 5)\r")
	scr.expect(t, `\[5\]\$ $`)
	_, _ = io.WriteString(master, "\x04")
	select {
	case code := <-done:
		if code != 5 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Ctrl-D did not end the session")
	}
}
