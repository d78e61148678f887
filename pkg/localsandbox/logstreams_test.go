//go:build unix

package localsandbox_test

import (
	"testing"
	"time"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// TestProcessLogHoldsSplitCharactersPerStream: a character split across
// two writes of stdout is held back until its end comes, on stdout; what
// stderr writes meanwhile is stderr's own. The held bytes were one buffer
// for both streams: they went out under stderr, in front of its text,
// which made both chunks invalid UTF-8 and so "binary output".
func TestProcessLogHoldsSplitCharactersPerStream(t *testing.T) {
	_, hs := newServer(t)
	sb := box(t, hs.URL, "split")
	x := ctx(t)
	// € is \342\202\254: the first two bytes come with "ok", the last
	// after stderr has written a line.
	p, err := sb.StartProcess(x, `printf 'ok\n\342\202'; read l; echo err >&2; read l; printf '\254\n'`, sc.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	zero := int64(0)
	waitFor := func(chunks int) *sc.Logs {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			l, err := sb.ProcessLogs(x, p.PID, sc.LogOptions{Cursor: &zero})
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Chunks) >= chunks {
				return l
			}
			if time.Now().After(deadline) {
				t.Fatalf("log %+v, want %d chunks", l.Chunks, chunks)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(1)
	if _, err := sb.WriteProcessInput(x, p.PID, "\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(2)
	if _, err := sb.WriteProcessInput(x, p.PID, "\n"); err != nil {
		t.Fatal(err)
	}
	l := waitFor(3)
	want := []sc.LogChunk{{Stream: "stdout", Data: "ok\n"}, {Stream: "stderr", Data: "err\n"}, {Stream: "stdout", Data: "€\n"}}
	if len(l.Chunks) != len(want) {
		t.Fatalf("chunks %+v, want %+v", l.Chunks, want)
	}
	for i, c := range l.Chunks {
		if c.Stream != want[i].Stream || c.Data != want[i].Data || c.Binary {
			t.Errorf("chunk %d: %s %q binary=%v, want %s %q", i, c.Stream, c.Data, c.Binary, want[i].Stream, want[i].Data)
		}
	}
}

// TestProcessLogKeepsAnUnfinishedCharacterAtExit: the start of a
// character the process never finished is logged when it exits, as the
// binary output it is, on its stream: it was held back again at the exit
// and lost without a word.
func TestProcessLogKeepsAnUnfinishedCharacterAtExit(t *testing.T) {
	_, hs := newServer(t)
	sb := box(t, hs.URL, "unfinished")
	x := ctx(t)
	p, err := sb.StartProcess(x, `echo ok; printf '\342\202' >&2`, sc.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	exit, err := sb.FollowLogs(x, p.PID, 0, 25*time.Millisecond, func(*sc.Logs) error { return nil })
	if err != nil || exit.Code != 0 {
		t.Fatalf("exit %+v %v", exit, err)
	}
	zero := int64(0)
	l, err := sb.ProcessLogs(x, p.PID, sc.LogOptions{Cursor: &zero})
	if err != nil {
		t.Fatal(err)
	}
	want := []sc.LogChunk{{Stream: "stdout", Data: "ok\n"}, {Stream: "stderr", Data: "[2 bytes of binary output]\n", Binary: true}}
	if len(l.Chunks) != len(want) {
		t.Fatalf("chunks %+v, want %+v", l.Chunks, want)
	}
	for i, c := range l.Chunks {
		if c.Stream != want[i].Stream || c.Data != want[i].Data || c.Binary != want[i].Binary {
			t.Errorf("chunk %d: %s %q binary=%v, want %s %q binary=%v", i, c.Stream, c.Data, c.Binary, want[i].Stream, want[i].Data, want[i].Binary)
		}
	}
}

// TestProcessLogEndsACharacterAtARestart: a run that exits in the middle
// of a character leaves its start unfinished; a restart is a new run,
// whose output does not continue it. The held bytes were kept across the
// restart and put in front of the next run's output, which turned into a
// binary-output placeholder that counted them with it.
func TestProcessLogEndsACharacterAtARestart(t *testing.T) {
	_, hs := newServer(t)
	sb := box(t, hs.URL, "restarted")
	x := ctx(t)
	p, err := sb.StartProcess(x, `if [ -e again ]; then echo second; exit 0; fi; touch again; printf 'first\342\202'; exit 1`, sc.StartOptions{Restart: "on-failure"})
	if err != nil {
		t.Fatal(err)
	}
	exit, err := sb.FollowLogs(x, p.PID, 0, 25*time.Millisecond, func(*sc.Logs) error { return nil })
	if err != nil || exit.Code != 0 {
		t.Fatalf("exit %+v %v", exit, err)
	}
	zero := int64(0)
	l, err := sb.ProcessLogs(x, p.PID, sc.LogOptions{Cursor: &zero})
	if err != nil {
		t.Fatal(err)
	}
	want := []sc.LogChunk{{Stream: "stdout", Data: "first"}, {Stream: "stdout", Data: "[2 bytes of binary output]\n", Binary: true}, {Stream: "stdout", Data: "second\n"}}
	if len(l.Chunks) != len(want) {
		t.Fatalf("chunks %+v, want %+v", l.Chunks, want)
	}
	for i, c := range l.Chunks {
		if c.Stream != want[i].Stream || c.Data != want[i].Data || c.Binary != want[i].Binary || c.Seq != int64(i) {
			t.Errorf("chunk %d: %d %s %q binary=%v, want %d %s %q binary=%v", i, c.Seq, c.Stream, c.Data, c.Binary, i, want[i].Stream, want[i].Data, want[i].Binary)
		}
	}
}

// TestProcessLogTimeoutNoticeIsText: the server's "command timed out"
// line goes to stderr after what the process wrote there; a character the
// process left unfinished on stderr was held back and put in front of the
// notice, so the notice became part of a binary-output placeholder and
// the log no longer said why the process ended.
func TestProcessLogTimeoutNoticeIsText(t *testing.T) {
	_, hs := newServer(t)
	sb := box(t, hs.URL, "timedout")
	x := ctx(t)
	// The timeout is the process's own deadline, not a wait of the test's:
	// long enough for the shell to have written before it.
	p, err := sb.StartProcess(x, `printf '\342\202' >&2; exec sleep 30`, sc.StartOptions{ExecOptions: sc.ExecOptions{Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	exit, err := sb.FollowLogs(x, p.PID, 0, 25*time.Millisecond, func(*sc.Logs) error { return nil })
	if err != nil || exit.Code != 124 {
		t.Fatalf("exit %+v %v", exit, err)
	}
	zero := int64(0)
	l, err := sb.ProcessLogs(x, p.PID, sc.LogOptions{Cursor: &zero})
	if err != nil {
		t.Fatal(err)
	}
	want := []sc.LogChunk{{Stream: "stderr", Data: "[2 bytes of binary output]\n", Binary: true}, {Stream: "stderr", Data: "command timed out after 2000ms\n"}}
	if len(l.Chunks) != len(want) {
		t.Fatalf("chunks %+v, want %+v", l.Chunks, want)
	}
	for i, c := range l.Chunks {
		if c.Stream != want[i].Stream || c.Data != want[i].Data || c.Binary != want[i].Binary {
			t.Errorf("chunk %d: %s %q binary=%v, want %s %q binary=%v", i, c.Stream, c.Data, c.Binary, want[i].Stream, want[i].Data, want[i].Binary)
		}
	}
}
