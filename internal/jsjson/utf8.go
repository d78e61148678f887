package jsjson

import "unicode/utf8"

// DecodeUTF8 converts bytes to a string as a non-fatal WHATWG TextDecoder
// ("utf-8") does: one leading BOM is removed and each maximal invalid
// subsequence becomes one U+FFFD. Go's own conversions replace invalid input
// differently (per byte, or per run), which would change what upstream sees.
// Valid input without a BOM is returned without copying work beyond the
// string conversion.
func DecodeUTF8(b []byte) string { return string(DecodeUTF8Bytes(b)) }

// DecodeUTF8Bytes is DecodeUTF8 returning bytes; valid input is returned
// as a subslice of b, without copying.
func DecodeUTF8Bytes(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		b = b[3:]
	}
	if utf8.Valid(b) {
		return b
	}
	out := make([]byte, 0, len(b)+8)
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			out = append(out, c)
			i++
			continue
		}
		var need int
		lower, upper := byte(0x80), byte(0xBF)
		switch {
		case c >= 0xC2 && c <= 0xDF:
			need = 1
		case c >= 0xE0 && c <= 0xEF:
			need = 2
			if c == 0xE0 {
				lower = 0xA0
			} else if c == 0xED {
				upper = 0x9F
			}
		case c >= 0xF0 && c <= 0xF4:
			need = 3
			if c == 0xF0 {
				lower = 0x90
			} else if c == 0xF4 {
				upper = 0x8F
			}
		default:
			out = append(out, "\uFFFD"...)
			i++
			continue
		}
		j := i + 1
		ok := true
		for k := 0; k < need; k++ {
			if j >= len(b) || b[j] < lower || b[j] > upper {
				ok = false
				break
			}
			lower, upper = 0x80, 0xBF
			j++
		}
		if !ok {
			// The maximal subpart b[i:j] is replaced; decoding resumes at
			// the byte that broke the sequence.
			out = append(out, "\uFFFD"...)
			i = j
			continue
		}
		out = append(out, b[i:j]...)
		i = j
	}
	return out
}
