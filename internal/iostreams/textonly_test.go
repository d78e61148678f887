package iostreams

import (
	"bytes"
	"errors"
	"testing"
)

// TestTextOnly: text reaches the writer whatever the cut between writes
// (a rune or a CRLF split in two); a control, DEL, a C1 control or bytes
// that are not UTF-8 stop it, and nothing of that write gets through.
func TestTextOnly(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		text bool
	}{
		{"plain", "hello\n\tworld\n", true},
		{"crlf", "a\r\nb\r\n", true},
		{"utf8", "héllo wörld 😀 \u202e\n", true},
		{"empty", "", true},
		{"esc", "ok\n\x1b]0;pwned\a", false},
		{"csi", "\x1b[2J", false},
		{"lone cr", "progress\rfake", false},
		{"final cr", "line\r", false},
		{"nul", "a\x00b", false},
		{"del", "a\x7fb", false},
		{"c1 as utf8", "a\u009bb", false},
		{"raw c1", "a\x9b2Jb", false},
		{"not utf8", "a\xff\xfe", false},
		{"cut rune at end", "a\xc3", false},
		{"bell", "\a", false},
	} {
		// Every split point: a write boundary must not change the answer.
		for cut := 0; cut <= len(tc.in); cut++ {
			var out bytes.Buffer
			w := NewTextOnly(&out)
			_, err1 := w.Write([]byte(tc.in[:cut]))
			_, err2 := w.Write([]byte(tc.in[cut:]))
			err := errors.Join(err1, err2, w.Close())
			if tc.text {
				if err != nil || out.String() != tc.in {
					t.Errorf("%s cut at %d: %v, wrote %q", tc.name, cut, err, out.String())
				}
				continue
			}
			if !errors.Is(err, ErrNotText) {
				t.Errorf("%s cut at %d: no ErrNotText (%v), wrote %q", tc.name, cut, err, out.String())
			}
			if bytes.ContainsAny(out.Bytes(), "\x1b\x00\x7f\a\x9b\xff") || bytes.Contains(out.Bytes(), []byte("\rf")) {
				t.Errorf("%s cut at %d: a control reached the terminal: %q", tc.name, cut, out.String())
			}
		}
	}
}
