//go:build unix

package localsandbox_test

import (
	"testing"
	"time"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// TestProcessLogTailsAsTheWorker pins a tail read (processLogs without a
// cursor) to the Worker's ProcessLogStore: walking back from the newest
// chunk, the chunk that reaches the asked number of lines or bytes is
// included (a tail holds at least what was asked, never less), 0 asks for
// nothing, and `truncated` is reported only for a read by cursor.
func TestProcessLogTailsAsTheWorker(t *testing.T) {
	// Three reads of output, one chunk each: the process writes the next
	// only when its input says so, after the previous is in the log.
	sb, x, pid := startLogged(t, "tails", `echo x; read l; printf 'a\nb\n'; read l; echo c`, sc.StartOptions{})
	text := func(want string) func(*sc.Logs) bool {
		return func(l *sc.Logs) bool { return l.Text == want }
	}
	logOnce(t, sb, x, pid, text("x\n"), `"x\n"`)
	if _, err := sb.WriteProcessInput(x, pid, "\n"); err != nil {
		t.Fatal(err)
	}
	logOnce(t, sb, x, pid, text("x\na\nb\n"), `"x\na\nb\n"`)
	if _, err := sb.WriteProcessInput(x, pid, "\n"); err != nil {
		t.Fatal(err)
	}
	if l := logOnce(t, sb, x, pid, text("x\na\nb\nc\n"), `"x\na\nb\nc\n"`); len(l.Chunks) != 3 {
		t.Fatalf("chunks %+v, want x, a b, c", l.Chunks)
	}
	n := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name string
		opt  sc.LogOptions
		want string
	}{
		{"lines 1", sc.LogOptions{Lines: n(1)}, "c\n"},
		// "c\n" has one line; "a\nb\n" brings it to three, and is kept.
		{"lines 2", sc.LogOptions{Lines: n(2)}, "a\nb\nc\n"},
		{"lines 3", sc.LogOptions{Lines: n(3)}, "a\nb\nc\n"},
		{"lines 4", sc.LogOptions{Lines: n(4)}, "x\na\nb\nc\n"},
		{"lines 0", sc.LogOptions{Lines: n(0)}, ""},
		// A chunk longer than the bytes asked for is still returned.
		{"bytes 1", sc.LogOptions{Bytes: n(1)}, "c\n"},
		{"bytes 3", sc.LogOptions{Bytes: n(3)}, "a\nb\nc\n"},
		{"bytes 0", sc.LogOptions{Bytes: n(0)}, ""},
		{"bytes all", sc.LogOptions{Bytes: n(1 << 20)}, "x\na\nb\nc\n"},
		{"default", sc.LogOptions{}, "x\na\nb\nc\n"},
		// A cursor is a read position, not "no cursor": 0 is the start
		// of the log, and with a cursor lines/bytes are not looked at
		// (upstream ProcessLogStore.read: a tail only when the cursor is
		// not a finite number).
		{"cursor 0 lines 1", sc.LogOptions{Cursor: n(0), Lines: n(1)}, "x\na\nb\nc\n"},
		{"cursor 2", sc.LogOptions{Cursor: n(2)}, "c\n"},
	} {
		l, err := sb.ProcessLogs(x, pid, tc.opt)
		if err != nil || l.Text != tc.want || l.Truncated {
			t.Errorf("%s: %q truncated=%v %v, want %q", tc.name, l.Text, l.Truncated, err, tc.want)
		}
	}

	// A cursor past the end reads nothing and answers the end, as the
	// Worker's (the cursor of every answer is the next sequence number).
	if l, err := sb.ProcessLogs(x, pid, sc.LogOptions{Cursor: n(99)}); err != nil || l.Text != "" || l.Cursor != 3 || l.Truncated {
		t.Fatalf("cursor past the end: %+v %v", l, err)
	}

	// Once older chunks were evicted, a tail that reaches the oldest one
	// kept is still not "truncated" (the Worker says so only for a cursor
	// that points before the oldest chunk kept).
	p, err := sb.StartProcess(x, "i=0; while [ $i -lt 2000 ]; do echo line-$i-................................................; i=$((i+1)); done", sc.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		l, err := sb.ProcessLogs(x, p.PID, sc.LogOptions{Bytes: n(1 << 20)})
		if err != nil {
			t.Fatal(err)
		}
		if l.Exit != nil {
			if l.Truncated || len(l.Text) < 60<<10 {
				t.Fatalf("tail of an evicted ring: truncated=%v, %d bytes", l.Truncated, len(l.Text))
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if l := wholeLog(t, sb, x, p.PID); !l.Truncated {
		t.Fatalf("cursor 0 on an evicted ring: truncated=%v", l.Truncated)
	}
}
