package iostreams

import (
	"errors"
	"io"
	"unicode/utf8"
)

// ErrNotText is what a TextOnly writer answers for the first byte that is
// not printable text.
var ErrNotText = errors.New("not printable text")

// TextOnly passes text through to a terminal and stops at anything a
// terminal would interpret or that is not text, as curl does for binary
// output: a file holding ESC (or another C0 or C1 control, or DEL) could
// retitle the window, write the clipboard (OSC 52), fake a prompt or
// hide lines; bytes that are not UTF-8 are binary, and their C1 bytes
// are controls to some terminals. Newline, tab and the CR of a CRLF pass.
// Nothing of a Write that holds such a byte reaches the terminal; what
// came before does. Call Close at the end: a rune or a CR cut by the end
// of the data is checked there.
type TextOnly struct {
	w       io.Writer
	pending []byte // a trailing incomplete rune or CR, decided by the next bytes
	err     error
}

// NewTextOnly returns a TextOnly writer in front of w.
func NewTextOnly(w io.Writer) *TextOnly { return &TextOnly{w: w} }

// Write writes the text in p, or fails with ErrNotText (and writes
// nothing of p) when p holds a byte that is not text.
func (t *TextOnly) Write(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	buf := p
	if len(t.pending) > 0 {
		buf = append(t.pending, p...)
	}
	end, ok := textPrefix(buf)
	if !ok {
		t.err = ErrNotText
		return 0, t.err
	}
	if end > 0 {
		if _, err := t.w.Write(buf[:end]); err != nil {
			t.err = err
			return 0, err
		}
	}
	t.pending = append([]byte(nil), buf[end:]...)
	return len(p), nil
}

// Close reports ErrNotText when the data ended inside a rune or with a
// lone CR; it does not close the terminal.
func (t *TextOnly) Close() error {
	if t.err != nil {
		return t.err
	}
	if len(t.pending) > 0 {
		t.err = ErrNotText
	}
	return t.err
}

// textPrefix says whether b is text, and where the part that is decided
// ends: a rune cut short at the end, or a final CR, waits for more.
func textPrefix(b []byte) (end int, ok bool) {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\n', c == '\t':
			case c == '\r':
				if i+1 == len(b) {
					return i, true
				}
				if b[i+1] != '\n' {
					return 0, false
				}
			case c < 0x20, c == 0x7f:
				return 0, false
			}
			i++
			continue
		}
		if !utf8.FullRune(b[i:]) {
			return i, true
		}
		r, n := utf8.DecodeRune(b[i:])
		if (r == utf8.RuneError && n == 1) || (r >= 0x80 && r <= 0x9f) {
			return 0, false
		}
		i += n
	}
	return len(b), true
}
