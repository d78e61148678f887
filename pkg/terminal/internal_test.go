package terminal

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand"
	"runtime"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/nimbus-sh/nimbus/pkg/terminal/frame"
)

func TestParseDetachKeys(t *testing.T) {
	k, err := ParseDetachKeys(DefaultDetachKeys)
	if err != nil || k.String() != "Enter ~ ." || !k.lineStart || string(k.seq) != "~." {
		t.Fatalf("%+v %v", k, err)
	}
	k, err = ParseDetachKeys("ctrl-p, ctrl-Q")
	if err != nil || k.String() != "Ctrl-P Ctrl-Q" || k.lineStart || string(k.seq) != "\x10\x11" {
		t.Fatalf("%+v %v", k, err)
	}
	k, err = ParseDetachKeys("ctrl-]")
	if err != nil || string(k.seq) != "\x1d" {
		t.Fatalf("%+v %v", k, err)
	}
	for _, off := range []string{"", "none", " NONE "} {
		if k, err := ParseDetachKeys(off); k != nil || err != nil {
			t.Errorf("%q: %+v %v", off, k, err)
		}
	}
	for _, bad := range []string{"enter", "~,enter", "ctrl-1", "tab", "é", "~,,."} {
		if _, err := ParseDetachKeys(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func feedAll(d *detacher, chunks ...string) (string, bool) {
	var out []byte
	for _, c := range chunks {
		var det bool
		out, det = d.feed(out, []byte(c))
		if det {
			return string(out), true
		}
	}
	return string(out), false
}

func TestDetacher(t *testing.T) {
	ssh, _ := ParseDetachKeys(DefaultDetachKeys)
	for _, tc := range []struct {
		in   []string
		out  string
		det  bool
		keys *DetachKeys
	}{
		{[]string{"~."}, "", true, ssh},                 // at the very start
		{[]string{"ls\r~."}, "ls\r", true, ssh},         // after Enter
		{[]string{"ls\r", "~", "."}, "ls\r", true, ssh}, // across reads
		{[]string{"a~.b"}, "a~.b", false, ssh},          // mid-line: typed through
		{[]string{"\r~~."}, "\r~.", false, ssh},         // ~~ sends one ~
		{[]string{"\r~x"}, "\r~x", false, ssh},          // not the sequence
		{[]string{"\r~\r~."}, "\r~\r", true, ssh},       // Enter after a held ~
		{[]string{"\n~."}, "\n", true, ssh},             // LF counts as Enter
		{[]string{"x\x10\x11y"}, "x", true, mustKeys("ctrl-p,ctrl-q")},
		{[]string{"x\x10y"}, "x\x10y", false, mustKeys("ctrl-p,ctrl-q")},
		{[]string{"ab\x1dcd"}, "ab", true, mustKeys("ctrl-]")},
		{[]string{"~."}, "~.", false, nil},
	} {
		out, det := feedAll(newDetacher(tc.keys), tc.in...)
		if out != tc.out || det != tc.det {
			t.Errorf("%q with %v: sent %q detached %v, want %q %v", tc.in, tc.keys, out, det, tc.out, tc.det)
		}
	}
}

func mustKeys(s string) *DetachKeys {
	k, err := ParseDetachKeys(s)
	if err != nil {
		panic(err)
	}
	return k
}

func TestOverlap(t *testing.T) {
	naive := func(text, p []byte) int {
		for k := min(len(text), len(p)); k > 0; k-- {
			if bytes.Equal(text[len(text)-k:], p[:k]) {
				return k
			}
		}
		return 0
	}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 5000; i++ {
		text := make([]byte, r.Intn(40))
		p := make([]byte, r.Intn(40))
		for j := range text {
			text[j] = "ab"[r.Intn(2)]
		}
		for j := range p {
			p[j] = "ab"[r.Intn(2)]
		}
		if got, want := overlap(text, p), naive(text, p); got != want {
			t.Fatalf("overlap(%q, %q) = %d, want %d", text, p, got, want)
		}
	}
}

func TestHistoryFresh(t *testing.T) {
	var h history
	screen := strings.Repeat("line of output\r\n", 20)
	h.add([]byte(screen))
	// A replay of everything plus what came while disconnected.
	if got := string(h.fresh([]byte(screen + "new\r\n"))); got != "new\r\n" {
		t.Fatalf("%q", got)
	}
	// A replay of the tail (the ring dropped the start).
	if got := string(h.fresh([]byte(screen[100:] + "new"))); got != "new" {
		t.Fatalf("%q", got)
	}
	// A fresh shell's prompt that happens to match the end is kept.
	var p history
	p.add([]byte("lots of output\r\n$ "))
	if got := string(p.fresh([]byte("$ "))); got != "$ " {
		t.Fatalf("%q", got)
	}
	// A short history wholly replayed.
	var s history
	s.add([]byte("$ "))
	if got := string(s.fresh([]byte("$ ls\r\n"))); got != "ls\r\n" {
		t.Fatalf("%q", got)
	}
	// Unrelated output is printed whole.
	if got := string(h.fresh([]byte("welcome\r\n"))); got != "welcome\r\n" {
		t.Fatalf("%q", got)
	}
}

// The first output after a reconnect is compared with the history; a
// server may send one message of up to ReadLimit bytes there. Only the
// part of it that can overlap the history (as long as the history) is
// worth a look: the comparison's table used to be 8 bytes per byte of the
// whole message (512 MiB for a 64 MiB one).
func TestHistoryFreshAllocatesForTheHistoryOnly(t *testing.T) {
	var h history
	h.add([]byte(strings.Repeat("$ ", 512)))
	replay := bytes.Repeat([]byte("x"), 8<<20)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got := h.fresh(replay)
	runtime.ReadMemStats(&after)
	if len(got) != len(replay) {
		t.Fatalf("fresh kept %d of %d bytes", len(got), len(replay))
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("fresh allocated %d bytes for an 8 MiB replay and a 1 KiB history", n)
	}
}

// A normal close (1000) ends piped input early only if the input had not
// ended. The input has a goroutine of its own, and empty input's end may
// not have been read yet when the close is, or may wait in inErr while
// serve's select took the close: `session attach` with empty input
// exited 69 (E_TERMINAL_CLOSED_EARLY) now and then on a loaded machine,
// against a server that closed at once. More input, a partial character
// held back at the end, or a failed read still end it early.
func TestNormalCloseWaitsForTheInputsEnd(t *testing.T) {
	closed := websocket.CloseError{Code: websocket.StatusNormalClosure, Reason: "terminal closed"}
	for _, tc := range []struct {
		name    string
		read    func(s *session) // what the input's goroutine does
		pending []byte           // input held back as an incomplete character
		cut     string           // in the error, "" for the normal end
	}{
		{"ended, waiting", func(s *session) { s.inErr <- io.EOF }, nil, ""},
		{"ending as the close is read", func(s *session) { go func() { s.inErr <- io.EOF }() }, nil, ""},
		{"more input", func(s *session) { go func() { s.in <- []byte("ls\n") }() }, nil, "before the input ended"},
		{"ended mid-character", func(s *session) { s.inErr <- io.EOF }, []byte("caf\xc3"), "before the input ended"},
		{"failed", func(s *session) { s.inErr <- errors.New("read failed") }, nil, "before the input ended"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &session{o: &Options{Out: io.Discard}, in: make(chan []byte), inErr: make(chan error, 1)}
			s.carry.Append(nil, tc.pending)
			tc.read(s)
			res, err, again := s.ended(context.Background(), closed)
			if again {
				t.Fatal("a normal close reconnects")
			}
			if tc.cut == "" {
				if err != nil || res.Reason != Closed || res.CloseReason != "terminal closed" {
					t.Fatalf("res %+v err %v, want Closed", res, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeClosedEarly || !strings.Contains(e.Message, tc.cut) {
				t.Fatalf("res %+v err %v, want %s %q", res, err, CodeClosedEarly, tc.cut)
			}
		})
	}
}

// A write that fails because the server closed the socket normally ends
// the attachment as the close does, after the messages read before it: a
// shell exiting at the end of a piped script closes the terminal while
// the probe confirming the input's end goes out, and that write's failure
// was taken for a lost connection (a redial, a new shell). A write that
// fails on a socket that broke stays a lost connection.
func TestWriteFailedReadsTheClose(t *testing.T) {
	closed := websocket.CloseError{Code: websocket.StatusNormalClosure, Reason: "terminal closed"}
	for _, tc := range []struct {
		name  string
		end   error // how the socket's reading ended
		again bool
	}{
		{"closed normally", closed, false},
		{"broken", io.ErrUnexpectedEOF, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &session{o: &Options{Out: io.Discard}, in: make(chan []byte), inErr: make(chan error, 1),
				sentInput: true, inputProbe: "input-1"}
			s.inErr <- io.EOF
			msgs := make(chan message, 3)
			msgs <- message{data: frame.ProbeResult([]byte(`"input-1"`))}
			msgs <- message{err: tc.end}
			replay := false
			failure := errors.New("failed to write: use of closed network connection")
			res, err, again := s.writeFailed(context.Background(), nil, msgs, &replay, failure)
			if again != tc.again {
				t.Fatalf("res %+v err %v again %v, want again %v", res, err, again, tc.again)
			}
			if tc.again {
				if err != failure {
					t.Fatalf("err %v, want the write's", err)
				}
				return
			}
			if err != nil || res.Reason != Closed || res.CloseReason != "terminal closed" {
				t.Fatalf("res %+v err %v, want Closed: the input was confirmed before the close", res, err)
			}
		})
	}
}
