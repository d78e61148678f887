package clierr

import (
	"bytes"
	"strconv"
	"testing"
	"unicode"
	"unicode/utf8"
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

func TestPrintable(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{"é ü 日本 🙂 ' \" \\", "é ü 日本 🙂 ' \" \\"},
		{"/home/user/plain é.txt", "/home/user/plain é.txt"},
		{"combining e\u0301", "combining e\u0301"},
		{"tab\there", `"tab\there"`},
		{"two\nlines", `"two\nlines"`},
		{"over\rwrite", `"over\rwrite"`},
		{"title\x1b]0;pwned\x07", `"title\x1b]0;pwned\a"`},
		{"\x1b[31mred", `"\x1b[31mred"`},
		{"del\x7f nul\x00", `"del\x7f nul\x00"`},
		{"c1 \u009b31m", `"c1 \u009b31m"`},
		{"next line \u0085", `"next line \u0085"`},
		{"no-break\u00a0space", `"no-break\u00a0space"`},
		{"em\u2003space", `"em\u2003space"`},
		{"ideographic\u3000space", `"ideographic\u3000space"`},
		{"line\u2028sep", `"line\u2028sep"`},
		{"para\u2029sep", `"para\u2029sep"`},
		{"bidi \u202eevil\u202c", `"bidi \u202eevil\u202c"`},
		{"isolate \u2066x\u2069", `"isolate \u2066x\u2069"`},
		{"zero\u200bwidth", `"zero\u200bwidth"`},
		{"bom\ufeff", `"bom\ufeff"`},
		{"soft\u00adhyphen", `"soft\u00adhyphen"`},
		{"invalid \xff\xfe", `"invalid \xff\xfe"`},
		{"cut \xe6\x97", `"cut \xe6\x97"`},
		{"literal \ufffd", `"literal \ufffd"`},
		{"filler\u3164blank", `"filler\u3164blank"`},
		{"braille\u2800blank", `"braille\u2800blank"`},
		{"private \ue000", `"private \ue000"`},
		{"unassigned \u0378", `"unassigned \u0378"`},
	} {
		if got := Printable(c.in); got != c.want {
			t.Errorf("Printable(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

// FuzzPrintable: whatever the input, the result holds no raw control,
// format, separator or other character Printable quotes for and is valid
// UTF-8; it is the input
// itself or its Go quoting, which unquotes back to the input.
func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"plain", "a\x1b[2Jb", "\u202e", "\u00a0", "\u2028", "\xff", "\ufffd", "é\n日本", "\u3164"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Printable(s)
		if !utf8.ValidString(got) {
			t.Fatalf("Printable(%q) = %q: invalid UTF-8", s, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) || (unicode.IsSpace(r) && r != ' ') || !printableRune(r) {
				t.Fatalf("Printable(%q) = %q holds %U", s, got, r)
			}
		}
		if got != s {
			if u, err := strconv.Unquote(got); err != nil || u != s {
				t.Fatalf("Printable(%q) = %q: not a quoting of it (%q, %v)", s, got, u, err)
			}
		}
	})
}
