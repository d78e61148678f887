package interactive

import (
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
		"\x1b[A\x03\x04": "\x1b[A\uE003\r\x04",
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
