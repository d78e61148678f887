package interactive

import (
	"fmt"
	"io"
	"testing"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

func TestDisplayShowsTheRootAsTilde(t *testing.T) {
	c, err := sc.New(sc.Options{Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.Sandbox("job-1", sc.SandboxOptions{Root: "/home/user"})
	if err != nil {
		t.Fatal(err)
	}
	s := &Shell{sb: sb}
	for in, want := range map[string]string{
		"/home/user": "~", "/home/user/app": "~/app", "/home/username": "/home/username", "/tmp": "/tmp", "": "",
	} {
		if got := s.display(in); got != want {
			t.Errorf("display(%q) = %q, want %q", in, got, want)
		}
	}
	for p, want := range map[Prompt]string{
		{SandboxID: "job-1", Cwd: "~/app"}:        "job-1:~/app$ ",
		{SandboxID: "job-1", Cwd: "~", Exit: 130}: "job-1:~ [130]$ ",
		{SandboxID: "job-1"}:                      "job-1$ ",
		{SandboxID: "job-1", Continuation: true}:  "> ",
	} {
		if got := PlainPrompt(p); got != want {
			t.Errorf("PlainPrompt(%+v) = %q, want %q", p, got, want)
		}
	}
}

func TestKeyReader(t *testing.T) {
	for in, want := range map[string]string{
		"abc\r":          "abc\r",
		"ab\x03":         "ab\uE003\r",
		"\x10\x11":       "\uE011\r",
		"\x10a":          "\x10a",
		"\x10\x10\x11":   "\x10\uE011\r",
		"x\x10":          "x\x10",
		"\x1b[A\x03\x04": "\x1b[A\uE003\r\uE004",
		"a\x04b\x04":     "a\uE004b\uE004",
	} {
		for _, split := range []int{1, 2, 64} {
			k := newKeyReader(&chunks{s: in, n: split}, true)
			got := readAll(t, k)
			if got != want {
				t.Errorf("%q in pieces of %d: %q, want %q", in, split, got, want)
			}
		}
	}
	// Without detach keys, Ctrl-P is an ordinary key at once.
	k := newKeyReader(&chunks{s: "\x10\x11", n: 1}, false)
	if got := readAll(t, k); got != "\x10\x11" {
		t.Errorf("no detach: %q", got)
	}
}

type chunks struct {
	s string
	n int
}

func (c *chunks) Read(p []byte) (int, error) {
	if c.s == "" {
		return 0, io.EOF
	}
	n := min(c.n, len(c.s), len(p))
	copy(p, c.s[:n])
	c.s = c.s[n:]
	return n, nil
}

func readAll(t *testing.T, k *keyReader) string {
	t.Helper()
	var out []byte
	buf := make([]byte, 3)
	for {
		n, err := k.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return string(out)
		}
	}
}

// Ctrl-D on an empty line is read once as the end of input, and what is
// typed after it is read on: x/term left the Ctrl-D unread, so every later
// ReadLine returned io.EOF again at once. On a line, Ctrl-D deletes the
// character under the cursor, as x/term does.
func TestLineEditorCtrlDIsReadOnce(t *testing.T) {
	for _, split := range []int{1, 2, 64} {
		in := "\x04abc\r\x04" + "ab\x1b[D\x04\r" + "\x04\x04x\r"
		e := newLineEditor(Terminal{In: &chunks{s: in, n: split}, Out: io.Discard}, nil, true)
		type read struct {
			line string
			k    key
		}
		var got []read
		for range 7 {
			line, k, err := e.readLine()
			if err != nil {
				t.Fatalf("pieces of %d: after %v: %v", split, got, err)
			}
			got = append(got, read{line, k})
		}
		want := []read{{"", keyEOF}, {"abc", keyNone}, {"", keyEOF}, {"a", keyNone}, {"", keyEOF}, {"", keyEOF}, {"x", keyNone}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("pieces of %d: %v, want %v", split, got, want)
		}
		// The input's own end is an end too, which keyReader remembers.
		if _, k, err := e.readLine(); k != keyEOF || err != nil || !e.keys.ended() {
			t.Errorf("pieces of %d: at the input's end: %v %v, ended %v", split, k, err, e.keys.ended())
		}
	}
}
