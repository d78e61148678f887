package clierr

import (
	"bytes"
	"testing"
)

func TestTerminalText(t *testing.T) {
	for in, want := range map[string]string{
		"plain text":                       "plain text",
		"two\nlines\tand tab":              "two\nlines\tand tab",
		"\x1b[31mred\x1b[0m":               "[31mred[0m",
		"title\x1b]0;pwned\x07 bell":       "title]0;pwned bell",
		"over\rwrite":                      "overwrite",
		"c1 \u009b31m csi":                 "c1 31m csi",
		"bidi \u202eevil\u202c and \u2066": "bidi evil and ",
		"del\x7f nul\x00":                  "del nul",
		"é ü 日本":                           "é ü 日本",
	} {
		if got := TerminalText(in); got != want {
			t.Errorf("TerminalText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRenderStripsServerTextOnTerminalOnly(t *testing.T) {
	e := New(69, "E_X", "boom \x1b[2J\x07", "hint \x1b]8;;x\x07")
	var tty, plain, js bytes.Buffer
	Render(&tty, e, RenderOptions{TTY: true})
	Render(&plain, &Error{Exit: 64, Message: "bad \x1b[1m", Plain: true}, RenderOptions{})
	Render(&js, e, RenderOptions{JSON: true})
	if bytes.ContainsAny(tty.Bytes(), "\x1b\x07") || bytes.ContainsAny(plain.Bytes(), "\x1b") {
		t.Fatalf("control characters on a terminal: %q %q", tty.String(), plain.String())
	}
	if want := `{"error":"boom \u001b[2J\u0007","code":"E_X","hint":"hint \u001b]8;;x\u0007"}` + "\n"; js.String() != want {
		t.Fatalf("JSON %q, want %q", js.String(), want)
	}
}
