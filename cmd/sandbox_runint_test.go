//go:build unix

package cmd_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
)

// hold is one request a holdingWorker holds: the first for op whose body
// mentions arg. held closes when it arrives; it then waits for release
// (and goes on to the backend) or for the client to give it up.
type hold struct {
	op, arg       string
	held, release chan struct{}
	once          sync.Once
}

func newHold(op, arg string) *hold {
	return &hold{op: op, arg: arg, held: make(chan struct{}), release: make(chan struct{})}
}

// holdingWorker is the local backend (package sandboxtest) behind faults:
// each of holds holds its request until released or given up. The test
// sends its signal when a held channel closes, so the signal, not a
// timer, is what ends the request: the interruption lands in that phase
// every time.
func holdingWorker(t *testing.T, holds ...*hold) (url string, srv *sandboxtest.Server) {
	t.Helper()
	srv = sandboxtest.New(sandboxtest.Options{})
	t.Cleanup(srv.Close)
	inner := srv.Config.Handler
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var call struct {
			Op string `json:"op"`
		}
		_ = json.Unmarshal(body, &call)
		for _, h := range holds {
			if call.Op != h.op || !bytes.Contains(body, []byte(h.arg)) {
				continue
			}
			first := false
			h.once.Do(func() { first = true })
			if first {
				close(h.held)
				select {
				case <-r.Context().Done():
					return
				case <-h.release:
				}
			}
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	return front.URL, srv
}

// runEnv is the environment of a nimbus that talks to the worker at url
// with a token that may destroy.
func runEnv(t *testing.T, url string, srv *sandboxtest.Server) []string {
	home := t.TempDir()
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, "cache"), "NO_COLOR=1", "TERM=xterm", "TMPDIR=" + home,
		"NIMBUS_ENDPOINT=" + url, "NIMBUS_TOKEN=" + srv.Token(scriptIDs["destroy"])}
}

// TestRunHeldFailureThenInterrupt: a download fails after a command that
// exited 0 (nimbus would exit 125 with it, so its line is held back),
// then Ctrl-C arrives during the next download. The interruption is the
// error (130), and the held failure is still said, once, where it
// happened: before the sandbox is destroyed, not after.
func TestRunHeldFailureThenInterrupt(t *testing.T) {
	second := newHold("readFileBytes", "second.txt")
	url, srv := holdingWorker(t, second)
	p := startPTY(t, runEnv(t, url, srv), "sandbox", "run", "--id", "job-held",
		"--download", "nothing.txt", "--download", "second.txt", "--", "echo two > second.txt")
	p.interruptWhen(second.held)
	code := p.exit()
	s := p.screen()
	if code != 130 {
		t.Fatalf("exit %d, want 130\n%s", code, s)
	}
	failed := "✗ download failed: /home/user/nothing.txt: no such file or directory in the sandbox"
	if n := strings.Count(s, "nothing.txt: no such file"); n != 1 {
		t.Fatalf("the download's failure said %d times, want once:\n%s", n, s)
	}
	at, destroyed := strings.Index(s, failed), strings.Index(s, "Destroyed job-held")
	if at < 0 || destroyed < 0 || at > destroyed {
		t.Fatalf("want %q, then the destroy:\n%s", failed, s)
	}
	if !strings.Contains(s[destroyed:], "E_INTERRUPTED") {
		t.Fatalf("no interruption error at the end:\n%s", s)
	}
}

// interruptWhen sends SIGINT once held closes; nimbus ending first fails
// the test at once rather than at the test's timeout.
func (p *ptySession) interruptWhen(held <-chan struct{}) {
	p.t.Helper()
	select {
	case <-held:
	case <-p.done:
		p.t.Fatalf("nimbus ended before the held request:\n%s", p.screen())
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		p.t.Fatal(err)
	}
}

// runPiped runs nimbus with its output in pipes (CI logs), sends SIGINT
// once held closes, and returns its exit code and output.
func runPiped(t *testing.T, env []string, held <-chan struct{}, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	nimbus, err := exec.LookPath("nimbus")
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command(nimbus, args...)
	c.Env, c.Dir = env, t.TempDir()
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- c.Wait() }()
	select {
	case <-held:
		if err := c.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		err = <-waited
	case err = <-waited:
		t.Fatalf("nimbus ended before the held request: %v\n%s%s", err, out.String(), errOut.String())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), out.String(), errOut.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errOut.String()
}

// In CI logs and with --json, the same run: exit 130; the held failure
// is said once (a line in the log; with --json its failed event on
// stdout, which stays whole NDJSON) and stderr's last word is the
// interruption (with --json, one error object and nothing else).
func TestRunHeldFailureThenInterruptPiped(t *testing.T) {
	args := []string{"sandbox", "run", "--id", "job-held", "--download", "nothing.txt", "--download", "second.txt", "--", "echo two > second.txt"}
	second := newHold("readFileBytes", "second.txt")
	url, srv := holdingWorker(t, second)
	code, _, stderr := runPiped(t, runEnv(t, url, srv), second.held, args...)
	want := "Sandbox job-held\n✗ download failed: /home/user/nothing.txt: no such file or directory in the sandbox\n"
	if code != 130 || !strings.HasPrefix(stderr, want) || strings.Count(stderr, "nothing.txt") != 1 || !strings.HasSuffix(stderr, "\n{\"error\":\"interrupted\",\"code\":\"E_INTERRUPTED\"}\n") {
		t.Fatalf("exit %d, stderr:\n%s\nwant 130 and it to start with:\n%s", code, stderr, want)
	}

	second = newHold("readFileBytes", "second.txt")
	url, srv = holdingWorker(t, second)
	code, stdout, stderr := runPiped(t, runEnv(t, url, srv), second.held, append([]string{"--json"}, args...)...)
	if code != 130 || !regexp.MustCompile(`^\{"error":"interrupted","code":"E_INTERRUPTED"[^\n]*\}\n$`).MatchString(stderr) {
		t.Fatalf("--json: exit %d, stderr %q; want 130 and one E_INTERRUPTED object", code, stderr)
	}
	var failures, results int
	for _, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("stdout line %q: %v\n%s", line, err, stdout)
		}
		if e["phase"] == "download" && e["status"] == "failed" && e["code"] == "E_NOT_FOUND" {
			failures++
		}
		if e["type"] == "result" && e["interrupted"] == "SIGINT" {
			results++
		}
	}
	// The download Ctrl-C cut short says so, and is no failure of the
	// phase: "failed" lists the one that did fail.
	if failures != 1 || results != 1 || !strings.Contains(stdout, `"failed":["download"],`) || strings.Contains(stdout, "context canceled") ||
		!strings.Contains(stdout, `"remote":"/home/user/second.txt","interrupted":"SIGINT","error":"interrupted by SIGINT","code":"E_INTERRUPTED"}`) {
		t.Fatalf("--json: want one E_NOT_FOUND download failure and an interrupted result:\n%s", stdout)
	}
}

// Ctrl-C during an upload (or a runtime install): exit 130, nothing run, the sandbox destroyed;
// with --json the upload's failed event says it was interrupted, as an
// interrupted command's does, not "context canceled" with no code, and
// the result lists no failed phase (the interruption is no failure of
// the upload: "interrupted" says what happened).
func TestRunInterruptedUpload(t *testing.T) {
	proj := filepath.Join(t.TempDir(), "proj")
	if err := os.MkdirAll(proj, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proj, "input.txt"), []byte("the input\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	write := newHold("writeFile", "input.txt")
	url, srv := holdingWorker(t, write)
	code, stdout, stderr := runPiped(t, runEnv(t, url, srv), write.held, "sandbox", "run", "--json", "--id", "job-up", "--upload", proj, "--", "echo never")
	if code != 130 || stderr != "{\"error\":\"interrupted\",\"code\":\"E_INTERRUPTED\"}\n" {
		t.Fatalf("exit %d, stderr %q; want 130 and one E_INTERRUPTED object", code, stderr)
	}
	if !strings.Contains(stdout, `{"type":"phase","phase":"upload","status":"failed","local":"`+proj+`","remote":"/home/user","files":0,"bytes":0,"interrupted":"SIGINT","error":"interrupted by SIGINT","code":"E_INTERRUPTED"}`) ||
		!strings.Contains(stdout, `{"type":"result","id":"job-up","ran":false,"exitCode":null,"interrupted":"SIGINT","destroyed":true,"reached":true}`) ||
		strings.Contains(stdout, "never") {
		t.Fatalf("stdout:\n%s", stdout)
	}

	// So does a runtime install.
	install := newHold("ensureRuntimes", "python")
	url, srv = holdingWorker(t, install)
	code, stdout, stderr = runPiped(t, runEnv(t, url, srv), install.held, "sandbox", "run", "--json", "--id", "job-rt", "--runtime", "python", "--", "echo never")
	if code != 130 || stderr != "{\"error\":\"interrupted\",\"code\":\"E_INTERRUPTED\"}\n" ||
		!strings.Contains(stdout, `{"type":"phase","phase":"runtime","status":"failed","runtime":"python","interrupted":"SIGINT","error":"interrupted by SIGINT","code":"E_INTERRUPTED"}`) ||
		!strings.Contains(stdout, `{"type":"result","id":"job-rt","ran":false,"exitCode":null,"interrupted":"SIGINT","destroyed":true,"reached":true}`) {
		t.Fatalf("runtime: exit %d, stderr %q, stdout:\n%s", code, stderr, stdout)
	}
}

// A second Ctrl-C, during the destroy the first one left to run, does not
// cut it short (the sandbox would be left), but it is not ignored without
// a word either: nimbus says it is still destroying the sandbox, which one
// a nimbus stopped now would leave, and how to delete it.
func TestRunSecondInterruptDuringDestroy(t *testing.T) {
	second, destroy := newHold("readFileBytes", "second.txt"), newHold("destroy", "")
	url, srv := holdingWorker(t, second, destroy)
	p := startPTY(t, runEnv(t, url, srv), "sandbox", "run", "--id", "job-twice",
		"--download", "second.txt", "--", "echo two > second.txt")
	p.interruptWhen(second.held)
	p.interruptWhen(destroy.held)
	p.expect(`still destroying sandbox job-twice \(at most 30s\); stopped now, nimbus would leave it: nimbus sandbox destroy job-twice`)
	close(destroy.release)
	code := p.exit()
	s := p.screen()
	if code != 130 || !strings.Contains(s, "✓ Destroyed job-twice") || strings.Contains(s, "was not destroyed") {
		t.Fatalf("exit %d, want 130 and the sandbox destroyed:\n%s", code, s)
	}
	destroyed := false
	for _, r := range srv.Requests() {
		destroyed = destroyed || r.Op == "destroy" && r.Status == http.StatusOK
	}
	if !destroyed {
		t.Fatalf("the Worker answered no destroy:\n%s", s)
	}
}

// pipedRun is nimbus with its output in pipes (CI logs), its stderr read
// line by line as it comes, so that a test can wait for a line before it
// lets the Worker answer.
type pipedRun struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    bytes.Buffer
	lines  chan string // stderr's lines; closed at its end
	mu     sync.Mutex
	errOut strings.Builder
	waited chan error
}

func startPiped(t *testing.T, env []string, args ...string) *pipedRun {
	t.Helper()
	nimbus, err := exec.LookPath("nimbus")
	if err != nil {
		t.Fatal(err)
	}
	r := &pipedRun{t: t, lines: make(chan string, 100), waited: make(chan error, 1)}
	r.cmd = exec.Command(nimbus, args...)
	r.cmd.Env, r.cmd.Dir, r.cmd.Stdout = env, t.TempDir(), &r.out
	stderr, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	read := make(chan struct{})
	go func() {
		defer close(read)
		defer close(r.lines)
		rd := bufio.NewReader(stderr)
		for {
			line, err := rd.ReadString('\n')
			r.mu.Lock()
			r.errOut.WriteString(line)
			r.mu.Unlock()
			if line != "" {
				r.lines <- line
			}
			if err != nil {
				return
			}
		}
	}()
	// Wait only once stderr is read to its end, as exec.Cmd asks.
	go func() { <-read; r.waited <- r.cmd.Wait() }()
	t.Cleanup(func() { _ = r.cmd.Process.Kill() })
	return r
}

func (r *pipedRun) stderr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.errOut.String()
}

// signalWhen sends sig once held closes, failing the test at once if
// stderr ends first (nimbus is gone).
func (r *pipedRun) signalWhen(held <-chan struct{}, sig syscall.Signal) {
	r.t.Helper()
	select {
	case <-held:
	case <-r.waited:
		r.t.Fatalf("nimbus ended before the held request:\n%s%s", r.out.String(), r.stderr())
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatal(err)
	}
}

// expectLine waits for a line of stderr that matches re and returns it.
func (r *pipedRun) expectLine(re string) string {
	r.t.Helper()
	rx := regexp.MustCompile(re)
	for line := range r.lines {
		if rx.MatchString(line) {
			return line
		}
	}
	r.t.Fatalf("no stderr line matching %q; stderr:\n%s", re, r.stderr())
	return ""
}

// exit waits for nimbus to exit and returns its code and output.
func (r *pipedRun) exit() (code int, stdout, stderr string) {
	r.t.Helper()
	for range r.lines { // the rest, already in errOut
	}
	err := <-r.waited
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		r.t.Fatal(err)
	}
	return code, r.out.String(), r.stderr()
}

// resultEvent is the last line of a --json run's stdout, its result.
func resultEvent(t *testing.T, stdout string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	var res map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil || res["type"] != "result" {
		t.Fatalf("no result event last (%v):\n%s", err, stdout)
	}
	return res
}

// A Ctrl-C that arrives only once the destroy has started (the step
// itself ran to exit 0) is a cancel all the same: the destroy goes on,
// nimbus says so, and the run exits 130, not 0, with the interruption as
// its last word, as a cancel before the destroy gives.
func TestRunInterruptOnlyDuringDestroy(t *testing.T) {
	destroy := newHold("destroy", "")
	url, srv := holdingWorker(t, destroy)
	p := startPTY(t, runEnv(t, url, srv), "sandbox", "run", "--id", "job-late", "--", "echo done")
	p.interruptWhen(destroy.held)
	p.expect(`still destroying sandbox job-late \(at most 30s\); stopped now, nimbus would leave it: nimbus sandbox destroy job-late`)
	close(destroy.release)
	code := p.exit()
	s := p.screen()
	destroyed := strings.Index(s, "✓ Destroyed job-late")
	if code != 130 || destroyed < 0 || !strings.Contains(s[destroyed:], "E_INTERRUPTED") || strings.Contains(s, "was not destroyed") {
		t.Fatalf("exit %d, want 130, the sandbox destroyed, then the interruption:\n%s", code, s)
	}
}

// With --json, a signal during the destroy is answered too, as nimbus's
// warnings are with --json: one W_STILL_DESTROYING object on stderr, with
// the sandbox and the command that deletes it; the result says
// "interrupted" and the run exits 143 for SIGTERM (a CI cancel).
func TestRunJSONSignalDuringDestroy(t *testing.T) {
	destroy := newHold("destroy", "")
	url, srv := holdingWorker(t, destroy)
	r := startPiped(t, runEnv(t, url, srv), "sandbox", "run", "--json", "--id", "job-term", "--", "echo done")
	r.signalWhen(destroy.held, syscall.SIGTERM)
	warning := r.expectLine(`W_STILL_DESTROYING`)
	close(destroy.release)
	code, stdout, stderr := r.exit()
	want := `{"warning":"still destroying sandbox job-term (at most 30s); stopped now, nimbus would leave it","code":"W_STILL_DESTROYING","hint":"nimbus sandbox destroy job-term"}` + "\n"
	if code != 143 || warning != want || stderr != want+`{"error":"interrupted","code":"E_INTERRUPTED"}`+"\n" {
		t.Fatalf("exit %d, stderr:\n%s\nwant 143, the warning\n%sand one E_INTERRUPTED object", code, stderr, want)
	}
	if res := resultEvent(t, stdout); res["interrupted"] != "SIGTERM" || res["exitCode"] != float64(0) || res["destroyed"] != true || res["failed"] != nil {
		t.Fatalf("result %v, want interrupted by SIGTERM after exit 0, destroyed:\n%s", res, stdout)
	}
	if strings.Contains(stdout, "E_INTERRUPTED") {
		t.Fatalf("no phase was cut short, yet an event says so:\n%s", stdout)
	}
}

// A command that failed keeps its exit code when a Ctrl-C comes after it,
// during the destroy or (with --keep, no destroy) a download: the job
// fails either way, and the step's own code says more than 130. The
// result says "interrupted" beside it.
func TestRunInterruptAfterCommandFailed(t *testing.T) {
	destroy := newHold("destroy", "")
	url, srv := holdingWorker(t, destroy)
	r := startPiped(t, runEnv(t, url, srv), "sandbox", "run", "--json", "--id", "job-failed", "--", "exit 3")
	r.signalWhen(destroy.held, syscall.SIGINT)
	r.expectLine(`W_STILL_DESTROYING`)
	close(destroy.release)
	code, stdout, stderr := r.exit()
	if res := resultEvent(t, stdout); code != 3 || res["interrupted"] != "SIGINT" || res["exitCode"] != float64(3) || res["destroyed"] != true {
		t.Fatalf("exit %d, result %v; want 3 and interrupted by SIGINT\nstderr:\n%s", code, res, stderr)
	}

	held := newHold("readFileBytes", "out.txt")
	url, srv = holdingWorker(t, held)
	r = startPiped(t, runEnv(t, url, srv), "sandbox", "run", "--json", "--keep", "--id", "job-kept", "--download", "out.txt", "--", "echo x > out.txt; exit 4")
	r.signalWhen(held.held, syscall.SIGINT)
	code, stdout, stderr = r.exit()
	if res := resultEvent(t, stdout); code != 4 || res["interrupted"] != "SIGINT" || res["exitCode"] != float64(4) || res["destroyed"] != false || strings.Contains(stderr, "W_STILL_DESTROYING") {
		t.Fatalf("--keep: exit %d, result %v; want 4 and interrupted by SIGINT\nstderr:\n%s", code, res, stderr)
	}

	// With --keep and a command that passed, the interruption is the
	// exit status, as without --keep.
	held = newHold("readFileBytes", "out.txt")
	url, srv = holdingWorker(t, held)
	r = startPiped(t, runEnv(t, url, srv), "sandbox", "run", "--json", "--keep", "--id", "job-kept0", "--download", "out.txt", "--", "echo x > out.txt")
	r.signalWhen(held.held, syscall.SIGTERM)
	code, stdout, stderr = r.exit()
	if res := resultEvent(t, stdout); code != 143 || res["interrupted"] != "SIGTERM" || stderr != `{"error":"interrupted","code":"E_INTERRUPTED"}`+"\n" {
		t.Fatalf("--keep: exit %d, result %v, stderr %q; want 143 and interrupted by SIGTERM", code, res, stderr)
	}
}
