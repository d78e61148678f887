//go:build unix

package cmd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
)

// sandboxProc is a process in sandbox job-1 of the local backend behind
// sandboxtest, which records the requests it serves, and the environment
// of a nimbus that talks to that backend.
type sandboxProc struct {
	srv *sandboxtest.Server
	sb  *sc.Sandbox
	pid int64
	env []string
}

// startSandboxProc starts script in sandbox job-1 of a new backend.
func startSandboxProc(t *testing.T, script string) *sandboxProc {
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
	p, err := sb.StartProcess(testCtx(t), script, sc.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	return &sandboxProc{srv: srv, sb: sb, pid: p.PID, env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "NIMBUS_ENDPOINT=" + srv.URL, "NIMBUS_TOKEN=" + tok}}
}

// testCtx bounds a test's requests and commands.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// cliRun is a nimbus started by sandboxProc.start.
type cliRun struct {
	t              *testing.T
	stdout, stderr bytes.Buffer
	done           chan error
}

// start starts nimbus with args ("PID" among them stands for the
// process's pid), its standard input /dev/null; it is killed if it
// outlives the test's bound.
func (p *sandboxProc) start(t *testing.T, args ...string) *cliRun {
	t.Helper()
	bin, err := exec.LookPath("nimbus")
	if err != nil {
		t.Fatal(err)
	}
	args = slices.Clone(args)
	if i := slices.Index(args, "PID"); i >= 0 {
		args[i] = strconv.FormatInt(p.pid, 10)
	}
	r := &cliRun{t: t, done: make(chan error, 1)}
	c := exec.CommandContext(testCtx(t), bin, args...)
	c.Env, c.Dir, c.Stdout, c.Stderr = p.env, t.TempDir(), &r.stdout, &r.stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- c.Wait() }()
	return r
}

// exit is how the nimbus of Wait's err ended: its exit code.
func (r *cliRun) exit(err error) int {
	r.t.Helper()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		return ee.ExitCode()
	} else if err != nil {
		r.t.Fatal(err)
	}
	return 0
}

// TestQuietFollowPollsLess: `nimbus sandbox attach ID PID </dev/null` and
// `nimbus sandbox logs -f ID PID` of a process that stays quiet for 3
// seconds polled processLogs every 100ms all along (about 30 requests
// here; for as long as a process runs, ten a second, each a request the
// Worker's platform bills, about 1% of a CPU). They now wait longer after
// each poll that brings nothing (up to 2s; attach once the end of its
// input is sent), so the same 3 seconds take a handful of requests. The
// output written after the quiet time is complete, on its streams, and
// nimbus exits with the process's code. The window is the process's own
// run against the local backend, whose request log counts what the CLI
// sent: the count can only be lower on a slow machine.
func TestQuietFollowPollsLess(t *testing.T) {
	for _, c := range []struct {
		args    []string
		sent    string // an op that must have been sent
		maxReqs int
	}{
		{[]string{"sandbox", "attach", "job-1", "PID"}, "endProcessInput", 15},
		{[]string{"sandbox", "logs", "-f", "--interval", "100ms", "job-1", "PID"}, "", 12},
	} {
		t.Run(c.args[1], func(t *testing.T) {
			t.Parallel() // each waits out its process's 3 s
			p := startSandboxProc(t, "echo start; sleep 3; echo end; echo late >&2; exit 5")
			p.srv.ResetRequests()
			r := p.start(t, c.args...)
			code := r.exit(<-r.done)
			if code != 5 || r.stdout.String() != "start\nend\n" || r.stderr.String() != "late\n" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 5, both lines, and late on stderr", code, r.stdout.String(), r.stderr.String())
			}
			ops := p.srv.Ops()
			polls := 0
			for _, op := range ops {
				if op == "processLogs" {
					polls++
				}
			}
			if c.sent != "" && !slices.Contains(ops, c.sent) {
				t.Fatalf("%s was not sent: %q", c.sent, ops)
			}
			if len(ops) > c.maxReqs {
				t.Fatalf("%d requests (%d polls of processLogs) over the 3s of a quiet process, want at most %d", len(ops), polls, c.maxReqs)
			}
			t.Logf("%d requests, %d polls of processLogs", len(ops), polls)
		})
	}
}

// startLinesZero starts a process that has written "old" and waits for
// a line of input to write "new" and exit 3.
func startLinesZero(t *testing.T) *sandboxProc {
	t.Helper()
	p := startSandboxProc(t, "echo old; read x; echo new; exit 3")
	// Follow until "old" is in the log: from then on it is earlier output.
	errOld := errors.New("old is in the log")
	_, err := p.sb.FollowLogs(testCtx(t), p.pid, 0, 25*time.Millisecond, func(l *sc.Logs) error {
		if strings.Contains(l.Text, "old\n") {
			return errOld
		}
		return nil
	})
	if !errors.Is(err, errOld) {
		t.Fatalf("waiting for the first line: %v", err)
	}
	return p
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
			p := startLinesZero(t)
			// The CLI's first read of the log: a tail, without a cursor.
			// (The test's own reads came before.)
			p.srv.ResetRequests()
			tailed := p.srv.Served(func(r sandboxtest.Request) bool {
				var a []json.RawMessage
				return r.Op == "processLogs" && json.Unmarshal(r.Args, &a) == nil && len(a) == 2 && !bytes.Contains(a[1], []byte(`"cursor"`))
			})
			r := p.start(t, args...)
			var waitErr error
			select {
			case <-tailed:
				// The backend has answered with its position: what
				// comes now is new.
				if ack, err := p.sb.WriteProcessInput(testCtx(t), p.pid, "go\n"); err != nil || !ack.OK {
					t.Fatalf("input: %v %+v", err, ack)
				}
				waitErr = <-r.done
			case waitErr = <-r.done:
				t.Errorf("nimbus ended before reading the log")
			}
			code := r.exit(waitErr)
			if code != 3 || r.stdout.String() != "new\n" || strings.Contains(r.stderr.String(), "old") {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 3, only the new line", code, r.stdout.String(), r.stderr.String())
			}
		})
	}
}

// TestLogsLinesZeroPrintsNothing: without -f, `logs --lines 0` prints no
// output and exits 0, as tail -n 0 does, after checking that the process
// exists; --json gives the result with no chunks and the current end as
// its cursor. It was a usage error (64).
func TestLogsLinesZeroPrintsNothing(t *testing.T) {
	p := startLinesZero(t)
	pid := strconv.FormatInt(p.pid, 10)
	dir := t.TempDir()
	code, stdout, stderr := runJSON(t, dir, p.env, "sandbox", "logs", "job-1", pid, "--lines", "0")
	if code != 0 || len(stdout) != 0 || len(stderr) != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 0 and nothing", code, stdout, stderr)
	}
	code, stdout, stderr = runJSON(t, dir, p.env, "sandbox", "logs", "job-1", pid, "--lines", "0", "--json")
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
	all, err := p.sb.ProcessLogs(testCtx(t), p.pid, sc.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.PID != p.pid || l.Chunks == nil || len(l.Chunks) != 0 || l.Text == nil || *l.Text != "" || l.Cursor != all.Cursor || l.Exit != nil {
		t.Fatalf("--json: %s; want no chunks, cursor %d (the end), exit null", stdout, all.Cursor)
	}
	code, _, stderr = runJSON(t, dir, p.env, "sandbox", "logs", "job-1", "999999", "--lines", "0")
	if code == 0 || !strings.Contains(string(stderr), "no such process") {
		t.Fatalf("a process that does not exist: exit %d, stderr %q", code, stderr)
	}
}
