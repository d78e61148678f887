package frame

import "unicode/utf8"

// Carry keeps a UTF-8 sequence split across reads whole. Frames carry
// text in JSON strings, which must be valid UTF-8: a multibyte character
// whose bytes arrive in two reads would otherwise travel as two U+FFFD.
// Bytes that can never form a character still travel as U+FFFD.
type Carry struct {
	buf [utf8.UTFMax]byte
	n   int
}

// Append appends to dst the carried bytes and p up to the end of the last
// character that is complete, and keeps an incomplete trailing sequence
// for the next call.
func (c *Carry) Append(dst, p []byte) []byte {
	if c.n > 0 {
		// Complete the carried sequence from the front of p.
		for len(p) > 0 && c.n < len(c.buf) && !utf8.FullRune(c.buf[:c.n]) {
			c.buf[c.n] = p[0]
			c.n++
			p = p[1:]
		}
		if !utf8.FullRune(c.buf[:c.n]) {
			return dst // still incomplete: p was too short
		}
		dst = append(dst, c.buf[:c.n]...)
		c.n = 0
	}
	cut := incompleteTail(p)
	dst = append(dst, p[:cut]...)
	c.n = copy(c.buf[:], p[cut:])
	return dst
}

// Flush appends the carried bytes, complete or not, and forgets them: at
// the end of the input.
func (c *Carry) Flush(dst []byte) []byte {
	dst = append(dst, c.buf[:c.n]...)
	c.n = 0
	return dst
}

// Pending reports how many bytes are carried.
func (c *Carry) Pending() int { return c.n }

// incompleteTail returns where an incomplete trailing UTF-8 sequence of p
// starts, or len(p) when there is none.
func incompleteTail(p []byte) int {
	for i := len(p) - 1; i >= 0 && i >= len(p)-utf8.UTFMax+1; i-- {
		b := p[i]
		if b < utf8.RuneSelf {
			return len(p)
		}
		if utf8.RuneStart(b) {
			if utf8.FullRune(p[i:]) {
				return len(p)
			}
			return i
		}
	}
	return len(p)
}
