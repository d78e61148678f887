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
		if b[i] < utf8.RuneSelf {
			out = append(out, b[i])
			i++
			continue
		}
		n, ok := sequence(b, i)
		if ok {
			out = append(out, b[i:i+n]...)
		} else {
			out = append(out, "\uFFFD"...)
		}
		i += n
	}
	return out
}

// sequence measures the multibyte UTF-8 sequence starting at s[i]
// (s[i] >= 0x80). For a valid sequence it returns its length and true.
// Otherwise it returns the length of the maximal subpart that the WHATWG
// decoder replaces with one U+FFFD (at least 1) and false: decoding resumes
// at the byte that broke the sequence, so "\xE2\x82A" is one U+FFFD and
// "A", where Go's utf8 package sees two invalid bytes.
func sequence[S ~string | ~[]byte](s S, i int) (int, bool) {
	var need int
	lower, upper := byte(0x80), byte(0xBF)
	switch c := s[i]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c >= 0xE0 && c <= 0xEF:
		need = 2
		if c == 0xE0 {
			lower = 0xA0 // overlong
		} else if c == 0xED {
			upper = 0x9F // surrogates
		}
	case c >= 0xF0 && c <= 0xF4:
		need = 3
		if c == 0xF0 {
			lower = 0x90 // overlong
		} else if c == 0xF4 {
			upper = 0x8F // above U+10FFFF
		}
	default:
		return 1, false
	}
	j := i + 1
	for k := 0; k < need; k++ {
		if j >= len(s) || s[j] < lower || s[j] > upper {
			return j - i, false
		}
		lower, upper = 0x80, 0xBF
		j++
	}
	return j - i, true
}
