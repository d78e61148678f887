//go:build unix

package localsandbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// The set-up the process-log tests share: a background process in a
// sandbox of its own on a fresh server, and its whole log read by cursor.

// startLogged starts command as a background process in sandbox id.
func startLogged(t *testing.T, id, command string, opts sc.StartOptions) (*sc.Sandbox, context.Context, int64) {
	t.Helper()
	_, hs := newServer(t)
	sb := box(t, hs.URL, id)
	x := ctx(t)
	p, err := sb.StartProcess(x, command, opts)
	if err != nil {
		t.Fatal(err)
	}
	return sb, x, p.PID
}

// wholeLog is the process's log from its first chunk kept.
func wholeLog(t *testing.T, sb *sc.Sandbox, x context.Context, pid int64) *sc.Logs {
	t.Helper()
	zero := int64(0)
	l, err := sb.ProcessLogs(x, pid, sc.LogOptions{Cursor: &zero})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// logOnce reads the whole log until has says it holds what the test
// waits for (the process wrote it), which it returns; want says what
// that is when it never comes.
func logOnce(t *testing.T, sb *sc.Sandbox, x context.Context, pid int64, has func(*sc.Logs) bool, want string) *sc.Logs {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		l := wholeLog(t, sb, x, pid)
		if has(l) {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("log %q %+v, want %s", l.Text, l.Chunks, want)
		}
		time.Sleep(10 * time.Millisecond) // the server does not signal a write
	}
}

// logAfterExit follows the log until the process ends with exit code
// code, then reads it whole.
func logAfterExit(t *testing.T, sb *sc.Sandbox, x context.Context, pid int64, code int) *sc.Logs {
	t.Helper()
	exit, err := sb.FollowLogs(x, pid, 0, 25*time.Millisecond, func(*sc.Logs) error { return nil })
	if err != nil || exit.Code != code {
		t.Fatalf("exit %+v %v, want %d", exit, err, code)
	}
	return wholeLog(t, sb, x, pid)
}

// checkChunks compares the streams, texts and binary marks of chunks.
func checkChunks(t *testing.T, got, want []sc.LogChunk) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("chunks %+v, want %+v", got, want)
	}
	for i, c := range got {
		if c.Stream != want[i].Stream || c.Data != want[i].Data || c.Binary != want[i].Binary {
			t.Errorf("chunk %d: %s %q binary=%v, want %s %q binary=%v", i, c.Stream, c.Data, c.Binary, want[i].Stream, want[i].Data, want[i].Binary)
		}
	}
}

// TestKillBetweenRestarts: killProcess while a restart:'on-failure'
// process waits to run again is a kill, not "not running": it answers ok,
// the process does not run again, and it ends as a killed process.
// (It answered ok:false and the process went on to restart three times.)
func TestKillBetweenRestarts(t *testing.T) {
	paused, release, restore := localsandbox.HoldFirstRestart()
	defer restore()
	defer release()
	sb, x, pid := startLogged(t, "killed-between", "echo run; exit 1", sc.StartOptions{Restart: "on-failure"})
	select {
	case <-paused:
	case <-x.Done():
		t.Fatal("the process never came to its restart")
	}
	a, err := sb.KillProcess(x, pid)
	release()
	if err != nil || !a.OK {
		t.Fatalf("kill between runs: %+v %v, want ok", a, err)
	}
	l := logAfterExit(t, sb, x, pid, 137)
	if l.Text != "run\n" || l.Exit == nil || l.Exit.Reason == nil || *l.Exit.Reason != "SIGKILL" {
		t.Fatalf("log %q exit %+v, want one run killed by SIGKILL", l.Text, l.Exit)
	}
}

// TestSignalledProcessIsNotRestarted: a restart:'on-failure' process
// that a signalProcess ends (SIGTERM, 143) did not fail on its own, so it
// does not run again, as on a Worker, where a signal's default action
// ends a resident like a kill and only a crash is re-driven. (It ran
// again, up to three more times.)
func TestSignalledProcessIsNotRestarted(t *testing.T) {
	// A second run says so and exits 0.
	sb, x, pid := startLogged(t, "signalled", `if [ -e again ]; then echo second; exit 0; fi; touch again; echo run; exec sleep 30`, sc.StartOptions{Restart: "on-failure"})
	logOnce(t, sb, x, pid, func(l *sc.Logs) bool { return l.Text == "run\n" }, "the first run's line")
	if a, err := sb.SignalProcess(x, pid, "SIGTERM"); err != nil || !a.OK {
		t.Fatalf("signal: %+v %v", a, err)
	}
	l := logAfterExit(t, sb, x, pid, 143)
	if l.Text != "run\n" || l.Exit == nil || l.Exit.Reason == nil || *l.Exit.Reason != "SIGTERM" {
		t.Fatalf("log %q exit %+v, want one run ended by SIGTERM", l.Text, l.Exit)
	}
	ps, err := sb.ListProcesses(x)
	if err != nil || len(ps) != 1 || ps[0].State != "killed" || ps[0].ExitCode == nil || *ps[0].ExitCode != 143 {
		t.Fatalf("processes %+v %v, want one killed with 143", ps, err)
	}
}
