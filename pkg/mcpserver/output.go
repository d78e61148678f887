package mcpserver

import (
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// capture collects one output stream for the model. Up to limit bytes it
// keeps everything; beyond that it keeps the first and last limit/2 bytes
// and, when spilling is enabled, copies the whole stream (up to spillCap
// bytes) to a local temporary file so it can be saved in the sandbox. Memory
// stays bounded by limit whatever the command prints.
type capture struct {
	limit int
	// all holds the stream while it fits in limit; after that, head and
	// tail take over.
	all        []byte
	head, tail []byte
	total      int64

	spillDir string // local directory of the spill file ("": the system's)
	spillCap int64  // 0 disables spilling
	spill    *os.File
	spilled  int64
	spillErr error
}

func newCapture(limit int, spillDir string, spillCap int64) *capture {
	if limit < 2 {
		limit = 2
	}
	return &capture{limit: limit, spillDir: spillDir, spillCap: spillCap}
}

// Write never fails: a failing spill file only loses the saved copy.
func (c *capture) Write(p []byte) (int, error) {
	n := len(p)
	c.total += int64(n)
	if c.head == nil {
		if len(c.all)+n <= c.limit {
			c.all = append(c.all, p...)
			return n, nil
		}
		// The stream outgrows the limit now: keep the head, start the tail,
		// and copy what was seen so far to the spill file.
		c.startSpill()
		c.writeSpill(c.all)
		half := c.limit / 2
		joined := append(c.all, p...)
		c.head = append([]byte(nil), joined[:half]...)
		c.tail = append(make([]byte, 0, 2*half), joined[max(len(joined)-half, half):]...)
		c.all = nil
		c.writeSpill(p)
		c.trimTail()
		return n, nil
	}
	c.writeSpill(p)
	c.tail = append(c.tail, p...)
	c.trimTail()
	return n, nil
}

// trimTail keeps the last limit/2 bytes, copying only when the buffer has
// doubled, so appends stay amortised O(1).
func (c *capture) trimTail() {
	half := c.limit / 2
	if len(c.tail) >= 2*half && len(c.tail) > half {
		copy(c.tail, c.tail[len(c.tail)-half:])
		c.tail = c.tail[:half]
	}
}

func (c *capture) startSpill() {
	if c.spillCap <= 0 {
		return
	}
	f, err := os.CreateTemp(c.spillDir, "nimbus-mcp-*.out")
	if err != nil {
		c.spillErr = err
		return
	}
	c.spill = f
}

func (c *capture) writeSpill(p []byte) {
	if c.spill == nil || c.spillErr != nil {
		return
	}
	room := c.spillCap - c.spilled
	if room <= 0 {
		return
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, err := c.spill.Write(p)
	c.spilled += int64(n)
	if err != nil {
		c.spillErr = err
	}
}

// truncated reports whether bytes were cut.
func (c *capture) truncated() bool { return c.head != nil }

// cut is the number of bytes the model does not see.
func (c *capture) cut() int64 {
	if c.head == nil {
		return 0
	}
	return c.total - int64(len(c.head)) - int64(c.tailLen())
}

func (c *capture) tailLen() int { return min(len(c.tail), c.limit/2) }

// text is what the model sees: the whole stream, or its head and tail around
// a marker saying how much was cut. Bytes that are not UTF-8 (and runes
// split by the cut) become U+FFFD.
func (c *capture) text() string {
	if c.head == nil {
		return validUTF8(c.all)
	}
	tail := c.tail[len(c.tail)-c.tailLen():]
	head := trimPartialRuneEnd(c.head)
	tail = trimPartialRuneStart(tail)
	cut := c.total - int64(len(head)) - int64(len(tail))
	return validUTF8(head) + fmt.Sprintf("\n[… %s cut …]\n", byteCount(cut)) + validUTF8(tail)
}

// binary tells output that is not text: NUL bytes, or more than a third
// of bytes that are not UTF-8 (or U+FFFD, which a Worker puts in their
// place) or are control characters other than tab, newlines, form feed,
// backspace and the escape of colour codes. Escaped in JSON (a NUL is six
// characters), such output would cost the model several times its size
// and tell it nothing; Latin-1 text or a stray invalid byte is still text.
func (c *capture) binary() bool {
	if c.head == nil {
		bad, nul := unprintable(c.all)
		return nul || bad*3 > len(c.all)
	}
	tail := c.tail[len(c.tail)-c.tailLen():]
	bh, nh := unprintable(c.head)
	bt, nt := unprintable(tail)
	return nh || nt || (bh+bt)*3 > len(c.head)+len(tail)
}

// unprintable counts the bytes of b that are not text (see binary) and
// reports NUL bytes.
func unprintable(b []byte) (bad int, nul bool) {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r == 0:
			nul = true
			bad++
		case r == utf8.RuneError, r == 0x7f, r < 0x20 && !strings.ContainsRune("\t\n\r\f\b\v\x1b", r):
			bad += n
		}
		i += n
	}
	return bad, nul
}

// spillFile returns the local copy of the whole stream (nil when there is
// none) and whether it holds everything.
func (c *capture) spillFile() (f *os.File, complete bool) {
	if c.spill == nil || c.spillErr != nil {
		return nil, false
	}
	return c.spill, c.spilled == c.total
}

// close removes the local spill file.
func (c *capture) close() {
	if c.spill != nil {
		name := c.spill.Name()
		_ = c.spill.Close()
		_ = os.Remove(name)
		c.spill = nil
	}
}

// captureString feeds a complete string through a capture (no spill file:
// the caller still has the whole string).
func captureString(s string, limit int) *capture {
	c := newCapture(limit, "", 0)
	_, _ = io.WriteString(c, s)
	return c
}

// tailText keeps the last limit bytes of s (logs are read from the end) and
// returns how many bytes were dropped from the front.
func tailText(s string, limit int) (string, int64) {
	if len(s) <= limit {
		return s, 0
	}
	t := trimPartialRuneStart([]byte(s[len(s)-limit:]))
	return validUTF8(t), int64(len(s) - len(t))
}

func validUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// trimPartialRuneEnd drops an incomplete UTF-8 sequence at the end of b.
func trimPartialRuneEnd(b []byte) []byte {
	for i := 1; i <= utf8.UTFMax && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < 0x80 {
			return b
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			return b
		}
	}
	return b
}

// trimPartialRuneStart drops continuation bytes at the start of b.
func trimPartialRuneStart(b []byte) []byte {
	for i := 0; i < utf8.UTFMax && i < len(b); i++ {
		if utf8.RuneStart(b[i]) {
			return b[i:]
		}
	}
	return b
}

// byteCount formats n for humans ("512 bytes", "1.5 KiB", "3.2 MiB").
func byteCount(n int64) string {
	switch {
	case n < 1024:
		if n == 1 {
			return "1 byte"
		}
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}
