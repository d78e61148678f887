//go:build unix

package cmd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
)

// linesZero is a sandbox job-1 on the local backend with a process that
// has written "old" and waits for a line of input to write "new" and exit
// 3, and a proxy in front of the backend that reports the CLI's first
// read of the log (a tail, without a cursor) once the backend answered it.
type linesZero struct {
	sb     *sc.Sandbox
	pid    int64
	env    []string
	tailed chan struct{}
}

func newLinesZero(t *testing.T) *linesZero {
	t.Helper()
	srv := sandboxtest.New(sandboxtest.Options{})
	t.Cleanup(srv.Close)
	tok := srv.Token(scriptIDs["use"])
	c, err := sc.New(sc.Options{Endpoint: srv.URL, Tokens: sc.StaticToken(tok)})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.Sandbox("job-1", sc.SandboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := sb.StartProcess(ctx, "echo old; read x; echo new; exit 3", sc.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Follow until "old" is in the log: from then on it is earlier output.
	errOld := errors.New("old is in the log")
	_, err = sb.FollowLogs(ctx, p.PID, 0, 25*time.Millisecond, func(l *sc.Logs) error {
		if strings.Contains(l.Text, "old\n") {
			return errOld
		}
		return nil
	})
	if !errors.Is(err, errOld) {
		t.Fatalf("waiting for the first line: %v", err)
	}

	lz := &linesZero{sb: sb, pid: p.PID, tailed: make(chan struct{})}
	var once sync.Once
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, srv.URL+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		var call struct {
			Op   string            `json:"op"`
			Args []json.RawMessage `json:"args"`
		}
		if json.Unmarshal(body, &call) == nil && call.Op == "processLogs" && len(call.Args) == 2 && !bytes.Contains(call.Args[1], []byte(`"cursor"`)) {
			once.Do(func() { close(lz.tailed) })
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(answer)
	}))
	t.Cleanup(proxy.Close)
	home := t.TempDir()
	lz.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"NIMBUS_ENDPOINT=" + proxy.URL, "NIMBUS_TOKEN=" + tok}
	return lz
}

// TestLinesZeroFollowsOnlyNewOutput: `logs -f --lines 0` and `attach
// --lines 0` print no earlier output, as tail -f -n 0: the line written
// before they read the log is not printed, the line written after is,
// and they exit with the process's code. They were refused (exit 125),
// as the count was sent as none and the server gave its 200 lines.
func TestLinesZeroFollowsOnlyNewOutput(t *testing.T) {
	for _, args := range [][]string{
		{"sandbox", "logs", "job-1", "PID", "-f", "--lines", "0", "--interval", "25ms"},
		{"sandbox", "attach", "job-1", "PID", "--no-stdin", "--lines", "0", "--interval", "25ms"},
	} {
		t.Run(args[1], func(t *testing.T) {
			lz := newLinesZero(t)
			args[3] = strconv.FormatInt(lz.pid, 10)
			bin, err := exec.LookPath("nimbus")
			if err != nil {
				t.Fatal(err)
			}
			c := exec.Command(bin, args...)
			var stdout, stderr bytes.Buffer
			c.Env, c.Dir, c.Stdout, c.Stderr = lz.env, t.TempDir(), &stdout, &stderr
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- c.Wait() }()
			var waitErr error
			select {
			case <-lz.tailed:
				// The CLI has its position: what comes now is new.
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if ack, err := lz.sb.WriteProcessInput(ctx, lz.pid, "go\n"); err != nil || !ack.OK {
					t.Fatalf("input: %v %+v", err, ack)
				}
				waitErr = <-done
			case waitErr = <-done:
				t.Errorf("nimbus ended before reading the log")
			case <-time.After(30 * time.Second):
				c.Process.Kill()
				<-done
				t.Fatalf("nimbus did not read the log within 30s; stderr %q", stderr.String())
			}
			code := 0
			var ee *exec.ExitError
			if errors.As(waitErr, &ee) {
				code = ee.ExitCode()
			} else if waitErr != nil {
				t.Fatal(waitErr)
			}
			if code != 3 || stdout.String() != "new\n" || strings.Contains(stderr.String(), "old") {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 3, only the new line", code, stdout.String(), stderr.String())
			}
		})
	}
}

// TestLogsLinesZeroPrintsNothing: without -f, `logs --lines 0` prints no
// output and exits 0, as tail -n 0 does, after checking that the process
// exists; --json gives the result with no chunks and the current end as
// its cursor. It was a usage error (64).
func TestLogsLinesZeroPrintsNothing(t *testing.T) {
	lz := newLinesZero(t)
	pid := strconv.FormatInt(lz.pid, 10)
	dir := t.TempDir()
	code, stdout, stderr := runJSON(t, dir, lz.env, "sandbox", "logs", "job-1", pid, "--lines", "0")
	if code != 0 || len(stdout) != 0 || len(stderr) != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 0 and nothing", code, stdout, stderr)
	}
	code, stdout, stderr = runJSON(t, dir, lz.env, "sandbox", "logs", "job-1", pid, "--lines", "0", "--json")
	var l struct {
		PID    int64             `json:"pid"`
		Chunks []json.RawMessage `json:"chunks"`
		Text   *string           `json:"text"`
		Cursor int64             `json:"cursor"`
		Exit   any               `json:"exit"`
	}
	if err := json.Unmarshal(stdout, &l); code != 0 || err != nil {
		t.Fatalf("exit %d, stdout %q (%v), stderr %q", code, stdout, err, stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	all, err := lz.sb.ProcessLogs(ctx, lz.pid, sc.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.PID != lz.pid || l.Chunks == nil || len(l.Chunks) != 0 || l.Text == nil || *l.Text != "" || l.Cursor != all.Cursor || l.Exit != nil {
		t.Fatalf("--json: %s; want no chunks, cursor %d (the end), exit null", stdout, all.Cursor)
	}
	code, _, stderr = runJSON(t, dir, lz.env, "sandbox", "logs", "job-1", "999999", "--lines", "0")
	if code == 0 || !strings.Contains(string(stderr), "no such process") {
		t.Fatalf("a process that does not exist: exit %d, stderr %q", code, stderr)
	}
}
