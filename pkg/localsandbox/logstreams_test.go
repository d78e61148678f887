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
	// € is \342\202\254: the first two bytes come with "ok", the last
	// after stderr has written a line.
	sb, x, pid := startLogged(t, "split", `printf 'ok\n\342\202'; read l; echo err >&2; read l; printf '\254\n'`, sc.StartOptions{})
	chunks := func(n int) func(*sc.Logs) bool {
		return func(l *sc.Logs) bool { return len(l.Chunks) >= n }
	}
	logOnce(t, sb, x, pid, chunks(1), "1 chunk")
	if _, err := sb.WriteProcessInput(x, pid, "\n"); err != nil {
		t.Fatal(err)
	}
	logOnce(t, sb, x, pid, chunks(2), "2 chunks")
	if _, err := sb.WriteProcessInput(x, pid, "\n"); err != nil {
		t.Fatal(err)
	}
	l := logOnce(t, sb, x, pid, chunks(3), "3 chunks")
	checkChunks(t, l.Chunks, []sc.LogChunk{{Stream: "stdout", Data: "ok\n"}, {Stream: "stderr", Data: "err\n"}, {Stream: "stdout", Data: "€\n"}})
}

// TestProcessLogKeepsAnUnfinishedCharacterAtExit: the start of a
// character the process never finished is logged when it exits, as the
// binary output it is, on its stream: it was held back again at the exit
// and lost without a word.
func TestProcessLogKeepsAnUnfinishedCharacterAtExit(t *testing.T) {
	sb, x, pid := startLogged(t, "unfinished", `echo ok; printf '\342\202' >&2`, sc.StartOptions{})
	l := logAfterExit(t, sb, x, pid, 0)
	checkChunks(t, l.Chunks, []sc.LogChunk{{Stream: "stdout", Data: "ok\n"}, {Stream: "stderr", Data: "[2 bytes of binary output]\n", Binary: true}})
}

// TestProcessLogEndsACharacterAtARestart: a run that exits in the middle
// of a character leaves its start unfinished; a restart is a new run,
// whose output does not continue it. The held bytes were kept across the
// restart and put in front of the next run's output, which turned into a
// binary-output placeholder that counted them with it.
func TestProcessLogEndsACharacterAtARestart(t *testing.T) {
	sb, x, pid := startLogged(t, "restarted", `if [ -e again ]; then echo second; exit 0; fi; touch again; printf 'first\342\202'; exit 1`, sc.StartOptions{Restart: "on-failure"})
	l := logAfterExit(t, sb, x, pid, 0)
	checkChunks(t, l.Chunks, []sc.LogChunk{{Stream: "stdout", Data: "first"}, {Stream: "stdout", Data: "[2 bytes of binary output]\n", Binary: true}, {Stream: "stdout", Data: "second\n"}})
	for i, c := range l.Chunks {
		if c.Seq != int64(i) {
			t.Errorf("chunk %d: seq %d", i, c.Seq)
		}
	}
}

// TestProcessLogTimeoutNoticeIsText: the server's "command timed out"
// line goes to stderr after what the process wrote there; a character the
// process left unfinished on stderr was held back and put in front of the
// notice, so the notice became part of a binary-output placeholder and
// the log no longer said why the process ended.
func TestProcessLogTimeoutNoticeIsText(t *testing.T) {
	// The timeout is the process's own deadline, not a wait of the test's:
	// long enough for the shell to have written before it.
	sb, x, pid := startLogged(t, "timedout", `printf '\342\202' >&2; exec sleep 30`, sc.StartOptions{ExecOptions: sc.ExecOptions{Timeout: 2 * time.Second}})
	l := logAfterExit(t, sb, x, pid, 124)
	checkChunks(t, l.Chunks, []sc.LogChunk{{Stream: "stderr", Data: "[2 bytes of binary output]\n", Binary: true}, {Stream: "stderr", Data: "command timed out after 2000ms\n"}})
}
