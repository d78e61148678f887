//go:build unix

package cmd_test

import (
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
