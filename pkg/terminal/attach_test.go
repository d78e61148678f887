//go:build unix

package terminal_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/terminal"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

const secret = "terminal-test-secret-0123456789abcdef"

// newServer is the real local backend over loopback HTTP.
func newServer(t *testing.T, mod ...func(*localsandbox.Options)) (*localsandbox.Server, *httptest.Server) {
	t.Helper()
	o := localsandbox.Options{DataDir: t.TempDir(), Secret: secret, HostEnv: []string{"PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8"}}
	for _, m := range mod {
		m(&o)
	}
	s, err := localsandbox.New(o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		hs.Close()
		_ = s.Close()
	})
	return s, hs
}

// tokens mints tokens pinned to the session with scopes, counting them.
type tokens struct {
	scopes []string
	n      atomic.Int32
}

func (tk *tokens) Token(_ context.Context, id string) (string, error) {
	tk.n.Add(1)
	tn, ttl := "acme", time.Minute
	in := token.Input{Tenant: &tn, Scopes: tk.scopes, SessionID: &id, TTL: &ttl}
	return token.Issuer{Secret: secret}.Mint(in)
}

func attachTokens() *tokens { return &tokens{scopes: []string{token.ScopeSessionAttach}} }

// screen is a concurrency-safe output that can be waited on.
type screen struct {
	mu   sync.Mutex
	b    strings.Builder
	wake chan struct{}
}

func newScreen() *screen { return &screen{wake: make(chan struct{}, 1)} }

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.b.Write(p)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *screen) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for !strings.Contains(s.String(), want) {
		select {
		case <-s.wake:
		case <-deadline:
			t.Fatalf("output never showed %q:\n%q", want, s.String())
		}
	}
}

// session runs Attach in the background.
type session struct {
	t      *testing.T
	in     *io.PipeWriter
	out    *screen
	done   chan struct{}
	res    terminal.Result
	err    error
	mu     sync.Mutex
	events []terminal.Event
}

func start(t *testing.T, o terminal.Options) *session {
	t.Helper()
	return startWithin(t, o, 60*time.Second)
}

// startWithin is start with Attach's context ending after limit, for a
// test that waits longer than start's minute.
func startWithin(t *testing.T, o terminal.Options, limit time.Duration) *session {
	t.Helper()
	pr, pw := io.Pipe()
	s := &session{t: t, in: pw, out: newScreen(), done: make(chan struct{})}
	if o.In == nil {
		o.In = pr
	}
	o.Out = s.out
	if o.Tokens == nil {
		o.Tokens = attachTokens()
	}
	o.Notify = func(e terminal.Event) {
		s.mu.Lock()
		s.events = append(s.events, e)
		s.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	go func() {
		defer close(s.done)
		defer cancel()
		s.res, s.err = terminal.Attach(ctx, o)
	}()
	t.Cleanup(func() {
		cancel()
		pw.Close()
		<-s.done
	})
	return s
}

func (s *session) typeText(text string) {
	s.t.Helper()
	if _, err := s.in.Write([]byte(text)); err != nil {
		s.t.Fatal(err)
	}
}

func (s *session) wait() (terminal.Result, error) {
	s.t.Helper()
	return s.waitUpTo(30 * time.Second)
}

// waitUpTo is wait with another bound, for sessions whose work is slow
// under -race on a loaded machine rather than stuck.
func (s *session) waitUpTo(d time.Duration) (terminal.Result, error) {
	s.t.Helper()
	select {
	case <-s.done:
		return s.res, s.err
	case <-time.After(d):
		s.t.Fatalf("Attach did not return; output %q", s.out.String())
		return terminal.Result{}, nil
	}
}

func (s *session) saw(k terminal.EventKind) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.events {
		if e.Kind == k {
			return true
		}
	}
	return false
}

func termOpts(url, id string) terminal.Options {
	keys, _ := terminal.ParseDetachKeys(terminal.DefaultDetachKeys)
	return terminal.Options{Endpoint: url, SessionID: id, Terminal: true, DetachKeys: keys, Reconnect: 20 * time.Second, RetryDelay: 50 * time.Millisecond}
}

func codeOf(err error) string {
	var e *terminal.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestTypeSeeResizeDetachReattach(t *testing.T) {
	_, hs := newServer(t)
	var size atomic.Value
	size.Store([2]int{100, 30})
	resized := make(chan struct{}, 1)
	o := termOpts(hs.URL, "dev-1")
	o.Size = func() (int, int, bool) { s := size.Load().([2]int); return s[0], s[1], true }
	o.Resized = resized
	s := start(t, o)
	s.typeText("PS1='$ '; echo marker-$((6*7))\r")
	s.out.waitFor(t, "marker-42\r\n")
	// The size at open reaches the PTY; so does a change.
	s.typeText("stty size\r")
	s.out.waitFor(t, "30 100\r\n")
	size.Store([2]int{132, 43})
	resized <- struct{}{}
	// The debounce, then the frame: ask until the shell sees it.
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(s.out.String(), "43 132\r\n"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the new size never reached the shell:\n%q", s.out.String())
		}
		s.typeText("stty size\r")
	}
	// A character split across two reads is carried over whole.
	s.typeText("echo caf\xc3")
	time.Sleep(50 * time.Millisecond)
	s.typeText("\xa9-ok\r")
	s.out.waitFor(t, "café-ok\r\n")
	// Enter ~ . detaches; the shell keeps running.
	s.typeText("\r~.")
	if res, err := s.wait(); err != nil || res.Reason != terminal.Detached {
		t.Fatalf("%+v %v", res, err)
	}
	// Reattaching at once replays the scrollback, once.
	r := start(t, termOpts(hs.URL, "dev-1"))
	r.typeText("echo again-$((1+1))\r")
	r.out.waitFor(t, "again-2\r\n")
	if n := strings.Count(r.out.String(), "marker-42\r\n"); n != 1 {
		t.Fatalf("scrollback shown %d times:\n%q", n, r.out.String())
	}
	r.typeText("\r~.")
	r.wait()
}

func TestPipeMode(t *testing.T) {
	_, hs := newServer(t)
	o := terminal.Options{Endpoint: hs.URL, SessionID: "pipe-1", In: strings.NewReader("echo piped-$((2+3))\nprintf 'caf\\303\\251\\n'\n")}
	s := start(t, o)
	res, err := s.wait()
	if err != nil || res.Reason != terminal.InputEnded {
		t.Fatalf("%+v %v", res, err)
	}
	out := s.out.String()
	if !strings.Contains(out, "piped-5") || !strings.Contains(out, "café") {
		t.Fatalf("%q", out)
	}
}

func TestBusyAndWait(t *testing.T) {
	_, hs := newServer(t)
	first := start(t, termOpts(hs.URL, "dev-1"))
	first.typeText("echo first\r")
	first.out.waitFor(t, "first")
	second := start(t, termOpts(hs.URL, "dev-1"))
	if _, err := second.wait(); codeOf(err) != terminal.CodeBusy {
		t.Fatalf("%v", err)
	}
	o := termOpts(hs.URL, "dev-1")
	o.Wait = 20 * time.Second
	waiter := start(t, o)
	deadline := time.Now().Add(20 * time.Second)
	for !waiter.saw(terminal.EventBusy) {
		if time.Now().After(deadline) {
			t.Fatal("no busy event")
		}
		time.Sleep(20 * time.Millisecond)
	}
	first.typeText("\r~.")
	first.wait()
	waiter.typeText("echo waited-$((3*3))\r")
	waiter.out.waitFor(t, "waited-9")
	waiter.typeText("\r~.")
	if res, err := waiter.wait(); err != nil || res.Reason != terminal.Detached {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestRefusedCredentials(t *testing.T) {
	_, hs := newServer(t)
	o := termOpts(hs.URL, "dev-1")
	o.Tokens = &tokens{scopes: []string{token.ScopeSandboxUse}}
	_, err := start(t, o).wait()
	var e *terminal.Error
	if !errors.As(err, &e) || !e.Auth() || e.Code != "E_SCOPE_MISSING" || e.Status != 403 || !strings.Contains(e.Message, "session:attach") {
		t.Fatalf("%#v", err)
	}
	o.Tokens = sc.StaticToken("not-a-token")
	_, err = start(t, o).wait()
	if !errors.As(err, &e) || e.Status != 401 || e.Code != "E_TOKEN_MALFORMED" {
		t.Fatalf("%#v", err)
	}
}

func TestDestroyEndsTheSession(t *testing.T) {
	_, hs := newServer(t)
	s := start(t, termOpts(hs.URL, "dev-1"))
	s.typeText("echo up\r")
	s.out.waitFor(t, "up")
	c, _ := sc.New(sc.Options{Endpoint: hs.URL, Tokens: &tokens{scopes: []string{token.ScopeSandboxUse, token.ScopeSessionDestroy}}})
	sb, _ := c.Sandbox("dev-1", sc.SandboxOptions{})
	if _, err := sb.Destroy(context.Background(), "done"); err != nil {
		t.Fatal(err)
	}
	if res, err := s.wait(); err != nil || res.Reason != terminal.Closed || res.CloseReason != "session destroyed" {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestTakenOver(t *testing.T) {
	_, hs := newServer(t, func(o *localsandbox.Options) { o.TerminalOwnerTimeout = 300 * time.Millisecond })
	o := termOpts(hs.URL, "dev-1")
	o.Keepalive = time.Hour // silent: it loses the terminal
	o.ProbeAfter = time.Hour
	first := start(t, o)
	first.typeText("echo first\r")
	first.out.waitFor(t, "first")
	time.Sleep(500 * time.Millisecond)
	second := start(t, termOpts(hs.URL, "dev-1"))
	second.typeText("echo second\r")
	second.out.waitFor(t, "second")
	if _, err := first.wait(); codeOf(err) != terminal.CodeTakenOver || !strings.Contains(err.Error(), "terminal taken over") {
		t.Fatalf("%v", err)
	}
}

func TestInvalidOptions(t *testing.T) {
	for _, o := range []terminal.Options{
		{Endpoint: "http://x", SessionID: "bad id", In: strings.NewReader(""), Out: io.Discard},
		{Endpoint: "ftp://x", SessionID: "ok", In: strings.NewReader(""), Out: io.Discard},
		{Endpoint: "http://x", SessionID: "ok"},
	} {
		if _, err := terminal.Attach(context.Background(), o); codeOf(err) != terminal.CodeInvalidArgument {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

func TestUnreachable(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	_, err := start(t, termOpts("http://"+addr, "dev-1")).wait()
	if codeOf(err) != terminal.CodeUnavailable {
		t.Fatalf("%v", err)
	}
}
