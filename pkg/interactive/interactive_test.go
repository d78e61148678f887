//go:build unix

package interactive_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/interactive"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

const secret = "interactive-test-secret-0123456789abcdef"

func testCtx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// backend starts the local backend (the handler of `nimbus dev`), with
// wrap around it when given, and returns a handle on sandbox job-1.
func backend(t testing.TB, wrap func(http.Handler) http.Handler) *sc.Sandbox {
	t.Helper()
	s, err := localsandbox.New(localsandbox.Options{DataDir: t.TempDir(), Secret: secret, HostEnv: []string{"PATH=" + os.Getenv("PATH"), "LANG=C"}})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = s
	if wrap != nil {
		h = wrap(s)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(func() {
		hs.Close()
		_ = s.Close()
	})
	tn, id := "acme", "job-1"
	tok, err := token.Issuer{Secret: secret}.Mint(token.Input{Tenant: &tn, SessionID: &id, Scopes: []string{token.ScopeSandboxUse}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := sc.New(sc.Options{Endpoint: hs.URL, Tokens: sc.StaticToken(tok)})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.Sandbox(id, sc.SandboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sb
}

// syncBuffer is a buffer written by one goroutine and read by another.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
	// wrote is signalled on every write.
	wrote chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{wrote: make(chan struct{}, 1)} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	n, err := s.b.Write(p)
	s.mu.Unlock()
	select {
	case s.wrote <- struct{}{}:
	default:
	}
	return n, err
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until the buffer contains want.
func (s *syncBuffer) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for !strings.Contains(s.String(), want) {
		select {
		case <-s.wrote:
		case <-deadline:
			t.Fatalf("no %q in %q", want, s.String())
		}
	}
}

func TestShellKeepsDirectoryAndEnvironment(t *testing.T) {
	sb := backend(t, nil)
	sh, err := interactive.NewShell(sb, interactive.ShellOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sh.ID(), interactive.ShellIDPrefix) || !interactive.ValidShellID(sh.ID()) {
		t.Fatalf("shell id %q", sh.ID())
	}
	ctx := testCtx(t)
	var out, errOut bytes.Buffer
	for _, l := range []string{"mkdir -p a/b && cd a/b", "export K=v", "echo \"$(basename \"$PWD\") $K\"", "echo e >&2; exit 4"} {
		if _, err := sh.Run(ctx, l, &out, &errOut, nil); err != nil {
			t.Fatal(err)
		}
	}
	if out.String() != "b v\n" || errOut.String() != "e\n" || sh.LastExit() != 4 {
		t.Fatalf("out %q err %q last %d", out.String(), errOut.String(), sh.LastExit())
	}
	cwd, err := sh.Cwd(ctx)
	if err != nil || !strings.HasSuffix(cwd, "/a/b") {
		t.Fatalf("cwd %q %v", cwd, err)
	}
	// Another shell on the same name rejoins it.
	again, _ := interactive.NewShell(sb, interactive.ShellOptions{ShellID: sh.ID()})
	out.Reset()
	if code, err := again.Run(ctx, `echo "$K"`, &out, &errOut, nil); err != nil || code != 0 || out.String() != "v\n" {
		t.Fatalf("rejoin: %d %q %v", code, out.String(), err)
	}
	for _, bad := range []string{"-x", "a b", strings.Repeat("a", 161), "é"} {
		if _, err := interactive.NewShell(sb, interactive.ShellOptions{ShellID: bad}); !sc.HasCode(err, sc.CodeInvalidArgument) {
			t.Errorf("shell id %q: %v", bad, err)
		}
	}
}

func TestRunScript(t *testing.T) {
	sb := backend(t, nil)
	for _, c := range []struct {
		script, out string
		code        int
	}{
		{"mkdir -p d; cd d\nbasename \"$PWD\"\n", "d\n", 0},
		{"echo a\\\nb\n", "ab\n", 0},
		{"false\n# a comment\n\n   \n", "", 1},
		{"echo one\nexit 7\necho never\n", "one\n", 7},
		{"(exit 3)\nexit\n", "", 3},
		{"exit 300", "", 44},
		{"echo no newline at the end", "no newline at the end\n", 0},
		{"printf 'x\\r\\n'\r\n", "x\r\n", 0},
		{"", "", 0},
		{"echo cont\\", "cont\\\n", 0},
		// A comment ends at its newline, backslash or not, as in sh: the
		// next line runs.
		{"# see C:\\\necho hi\n", "hi\n", 0},
		{"  # a \\\nfalse\n", "", 1},
	} {
		sh, _ := interactive.NewShell(sb, interactive.ShellOptions{})
		var out bytes.Buffer
		code, err := sh.RunScript(testCtx(t), strings.NewReader(c.script), &out, io.Discard, nil)
		if err != nil || code != c.code || out.String() != c.out {
			t.Errorf("%q: code %d out %q err %v; want %d %q", c.script, code, out.String(), err, c.code, c.out)
		}
	}
	// A long here-document is one command (the joiner carries its scanner
	// from line to line; TestLineJoinerLongHeredoc has 200,000 lines).
	{
		sh, _ := interactive.NewShell(sb, interactive.ShellOptions{})
		var out bytes.Buffer
		script := "cat <<'EOF' | wc -l\n" + strings.Repeat("a line of a long here-document ( $( ' \"\n", 2000) + "EOF\n"
		if code, err := sh.RunScript(testCtx(t), strings.NewReader(script), &out, io.Discard, nil); err != nil || code != 0 || strings.TrimSpace(out.String()) != "2000" {
			t.Errorf("a here-document of 2,000 lines: code %d out %q err %v; want 0 \"2000\"", code, out.String(), err)
		}
	}
	// done hears of every line that ran.
	sh, _ := interactive.NewShell(sb, interactive.ShellOptions{})
	var codes []int
	code, err := sh.RunScript(testCtx(t), strings.NewReader("true\n# skipped\nfalse\n(exit 5)\n"), io.Discard, io.Discard, func(code int, took time.Duration) error {
		if took <= 0 {
			t.Errorf("line took %s", took)
		}
		codes = append(codes, code)
		return nil
	})
	if err != nil || code != 5 || fmt.Sprint(codes) != "[0 1 5]" {
		t.Errorf("done: %d %v %v", code, codes, err)
	}
	// A line too long to be a command is refused, not run.
	sh, _ = interactive.NewShell(sb, interactive.ShellOptions{})
	if _, err := sh.RunScript(testCtx(t), strings.NewReader("echo "+strings.Repeat("x", 2<<20)), io.Discard, io.Discard, nil); !sc.HasCode(err, sc.CodeInvalidArgument) {
		t.Errorf("long line: %v", err)
	}
	// The per-line timeout gives 124 for the line.
	sh, _ = interactive.NewShell(sb, interactive.ShellOptions{Timeout: 200 * time.Millisecond})
	var errOut bytes.Buffer
	code, err = sh.RunScript(testCtx(t), strings.NewReader("sleep 5\n"), io.Discard, &errOut, nil)
	if err != nil || code != 124 || !strings.Contains(errOut.String(), "command timed out after 200ms") {
		t.Errorf("timeout: %d %q %v", code, errOut.String(), err)
	}
	// Cancelling stops the script with the context's error.
	ctx, cancel := context.WithCancel(testCtx(t))
	out := newSyncBuffer()
	done := make(chan error, 1)
	go func() {
		_, err := sh.RunScript(ctx, strings.NewReader("echo started; sleep 30\necho never\n"), out, io.Discard, nil)
		done <- err
	}()
	out.waitFor(t, "started")
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled || strings.Contains(out.String(), "never") {
			t.Fatalf("%v %q", err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the script went on after cancel")
	}
}

// An interrupt stops the running line (closing its stream) and the shell
// goes on from the state of the last completed line.
func TestRunInterrupt(t *testing.T) {
	sb := backend(t, nil)
	sh, _ := interactive.NewShell(sb, interactive.ShellOptions{})
	ctx := testCtx(t)
	if _, err := sh.Run(ctx, "export KEPT=yes", io.Discard, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	out := newSyncBuffer()
	intr := make(chan struct{}, 1)
	type res struct {
		code int
		err  error
	}
	done := make(chan res, 1)
	go func() {
		code, err := sh.Run(ctx, "echo started; sleep 30; echo never", out, io.Discard, intr)
		done <- res{code, err}
	}()
	out.waitFor(t, "started")
	start := time.Now()
	intr <- struct{}{}
	select {
	case r := <-done:
		if r.err != nil || r.code != interactive.ExitInterrupted || sh.LastExit() != interactive.ExitInterrupted {
			t.Fatalf("%+v", r)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the interrupt did not stop the line")
	}
	if d := time.Since(start); d >= interactive.InterruptGrace {
		t.Errorf("with no process to signal the stream must close at once, took %s", d)
	}
	var b bytes.Buffer
	if code, err := sh.Run(ctx, `echo "$KEPT"`, &b, io.Discard, nil); err != nil || code != 0 || b.String() != "yes\n" {
		t.Fatalf("after the interrupt: %d %q %v", code, b.String(), err)
	}
}

// On a server that lists a line's processes (a Worker lists node
// processes by execId), an interrupt sends them SIGINT first and closes
// the stream after InterruptGrace. The wrapper adds such a listing to the
// real backend and records the signals.
func TestRunInterruptSignalsTheLinesProcesses(t *testing.T) {
	var mu sync.Mutex
	var execID string
	var signals []string
	sb := backend(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/rpc") {
				h.ServeHTTP(w, r)
				return
			}
			b, _ := io.ReadAll(r.Body)
			var req struct {
				Op   string            `json:"op"`
				Args []json.RawMessage `json:"args"`
			}
			_ = json.Unmarshal(b, &req)
			switch req.Op {
			case "execStream":
				var o struct {
					ExecID string `json:"execId"`
				}
				_ = json.Unmarshal(req.Args[1], &o)
				mu.Lock()
				execID = o.ExecID
				mu.Unlock()
			case "listProcesses":
				mu.Lock()
				id := execID
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"ok":true,"result":[{"pid":7,"command":"node x","argv":[],"cwd":"/","state":"exited","exitCode":0,"startTime":1,"endTime":2,"longRunning":false,"attachedTty":false,"execId":"`+id+`"},{"pid":9,"command":"node y","argv":[],"cwd":"/","state":"running","exitCode":null,"startTime":1,"endTime":null,"longRunning":true,"attachedTty":false,"execId":"`+id+`"},{"pid":11,"command":"other","argv":[],"cwd":"/","state":"running","exitCode":null,"startTime":1,"endTime":null,"longRunning":true,"attachedTty":false,"execId":"someone-else.1"}]}`)
				return
			case "signalProcess":
				mu.Lock()
				signals = append(signals, string(req.Args[0])+" "+string(req.Args[1]))
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"ok":true,"result":{"ok":true,"pid":`+string(req.Args[0])+`}}`)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
			h.ServeHTTP(w, r)
		})
	})
	sh, _ := interactive.NewShell(sb, interactive.ShellOptions{ShellID: "dev"})
	out := newSyncBuffer()
	intr := make(chan struct{}, 1)
	done := make(chan int, 1)
	go func() {
		code, _ := sh.Run(testCtx(t), "echo started; sleep 30", out, io.Discard, intr)
		done <- code
	}()
	out.waitFor(t, "started")
	start := time.Now()
	intr <- struct{}{}
	select {
	case code := <-done:
		if code != interactive.ExitInterrupted {
			t.Fatalf("code %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the line did not stop after the grace period")
	}
	if d := time.Since(start); d < interactive.InterruptGrace {
		t.Errorf("the stream closed after %s, before the grace period", d)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.HasPrefix(execID, "dev.") || len(signals) != 1 || signals[0] != `9 "SIGINT"` {
		t.Fatalf("execId %q, signals %q", execID, signals)
	}
}

func TestParseExit(t *testing.T) {
	for _, c := range []struct {
		line string
		code int
		ok   bool
	}{
		{"exit", 5, true}, {"  exit  ", 5, true}, {"exit 0", 0, true}, {"exit 3", 3, true}, {"exit 256", 0, true},
		{"exit -1", 255, true}, {"exit x", 0, false}, {"exit 1 2", 0, false}, {"exited", 0, false}, {"echo exit", 0, false}, {"", 0, false},
	} {
		code, ok := interactive.ParseExit(c.line, 5)
		if code != c.code || ok != c.ok {
			t.Errorf("ParseExit(%q) = %d %v, want %d %v", c.line, code, ok, c.code, c.ok)
		}
	}
}

func TestHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hist", "job-1")
	h, err := interactive.OpenHistory(path, 3)
	if err != nil || h.Len() != 0 {
		t.Fatalf("%v %v", h, err)
	}
	for _, l := range []string{"ls", "ls", " secret=1", "", "  ", "cd app", "make", "make test", "bad\nline"} {
		h.Add(l)
	}
	if h.Len() != 3 || h.At(0) != "make test" || h.At(2) != "cd app" || h.Err() != nil {
		t.Fatalf("len %d, %v", h.Len(), h.Err())
	}
	b, _ := os.ReadFile(path)
	if string(b) != "ls\ncd app\nmake\nmake test\n" {
		t.Fatalf("file %q", b)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %o", fi.Mode().Perm())
	}
	// Reopening keeps the last lines and compacts the file.
	h, err = interactive.OpenHistory(path, 3)
	if err != nil || h.Len() != 3 || h.At(0) != "make test" || h.At(2) != "cd app" {
		t.Fatalf("%v", err)
	}
	b, _ = os.ReadFile(path)
	if string(b) != "cd app\nmake\nmake test\n" {
		t.Fatalf("compacted %q", b)
	}
	// A history that cannot be read is an error; one that cannot be
	// written says so and keeps lines in memory.
	blocked := filepath.Join(t.TempDir(), "file")
	_ = os.WriteFile(blocked, nil, 0o600)
	if _, err := interactive.OpenHistory(filepath.Join(blocked, "job-1"), 0); err == nil {
		t.Fatal("opened a history under a file")
	}
	path = filepath.Join(t.TempDir(), "job-1")
	h, err = interactive.OpenHistory(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Mkdir(path, 0o700)
	h.Add("ls")
	if h.Len() != 1 || h.Err() == nil {
		t.Fatalf("len %d err %v", h.Len(), h.Err())
	}
}

func TestAttachWithInput(t *testing.T) {
	sb := backend(t, nil)
	ctx := testCtx(t)
	r, err := sb.StartProcess(ctx, `while read l; do echo "got:$l"; done; echo bye >&2; exit 3`, sc.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	// One byte per read: characters split across reads arrive whole.
	in := iotest.OneByteReader(strings.NewReader("hello\nwörld ✓\n"))
	res, err := interactive.Attach(ctx, sb, r.PID, interactive.AttachOptions{In: in, Stdout: &out, Stderr: &errOut, Interval: 25 * time.Millisecond})
	if err != nil || res.Detached || res.Exit == nil || res.Exit.Code != 3 {
		t.Fatalf("%+v %v", res, err)
	}
	if out.String() != "got:hello\ngot:wörld ✓\n" || errOut.String() != "bye\n" {
		t.Fatalf("out %q err %q", out.String(), errOut.String())
	}
	// Attaching to a process that exited shows its output and code.
	out.Reset()
	res, err = interactive.Attach(ctx, sb, r.PID, interactive.AttachOptions{Stdout: &out})
	if err != nil || res.Exit.Code != 3 || out.String() != "got:hello\ngot:wörld ✓\n" {
		t.Fatalf("%+v %v %q", res, err, out.String())
	}
	// An unknown pid is the server's error.
	if _, err := interactive.Attach(ctx, sb, 424242, interactive.AttachOptions{Stdout: &out}); err == nil {
		t.Fatal("attached to a pid that does not exist")
	}
}

// dropTimeouts removes timeoutMs from exec requests, as a Worker that
// never enforces or reports a timeout would ignore it.
func dropTimeouts(h http.Handler) http.Handler {
	re := regexp.MustCompile(`"timeoutMs":[0-9]+,?`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		b = re.ReplaceAll(b, nil)
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		h.ServeHTTP(w, r)
	})
}

// --timeout bounds a line even when the Worker never reports it: the line
// ends with 124 after the timeout and the client's grace, and the shell
// goes on.
func TestShellLineTimeoutWhenTheWorkerIgnoresIt(t *testing.T) {
	sb := backend(t, dropTimeouts)
	sh, err := interactive.NewShell(sb, interactive.ShellOptions{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	start := time.Now()
	code, err := sh.Run(ctx, "sleep 30", io.Discard, io.Discard, nil)
	if err != nil || code != interactive.ExitTimeout || time.Since(start) > 15*time.Second {
		t.Fatalf("code %d, err %v, after %v", code, err, time.Since(start))
	}
	var out bytes.Buffer
	if code, err := sh.Run(ctx, "echo next", &out, io.Discard, nil); err != nil || code != 0 || out.String() != "next\n" {
		t.Fatalf("next line: %d %q %v", code, out.String(), err)
	}
}

// Attach passes OnWarning one *LostOutputError, once, when polls by
// cursor report output dropped from the log ring (sc.Logs.Lost), here on
// two polls running, and still shows the rest: the output must not pass
// for the whole output. The backend's ring really drops it; sandboxtest
// only times the process's bursts between the polls.
func TestAttachWarnsOnceOfLostOutput(t *testing.T) {
	srv := sandboxtest.New(sandboxtest.Options{ProcessLogBytes: 1 << 10})
	t.Cleanup(srv.Close)
	tok := srv.Token(sandboxtest.Identity{Tenant: "acme", Scopes: []string{token.ScopeSandboxUse}})
	lost, err := srv.LoseLogs(tok, "job-1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := sc.New(sc.Options{Endpoint: srv.URL, Tokens: sc.StaticToken(tok)})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.Sandbox("job-1", sc.SandboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	var warnings []error
	res, err := interactive.Attach(testCtx(t), sb, lost.PID, interactive.AttachOptions{
		Stdout: &out, Interval: 25 * time.Millisecond,
		OnWarning: func(err error) { warnings = append(warnings, err) },
	})
	if err != nil || res.Exit == nil || res.Exit.Code != 0 {
		t.Fatalf("%+v, %v", res, err)
	}
	if err := lost.Followed(out.String()); err != nil {
		t.Fatal(err)
	}
	var le *interactive.LostOutputError
	if len(warnings) != 1 || !errors.As(warnings[0], &le) || le.PID != lost.PID {
		t.Fatalf("warnings %v", warnings)
	}
}
