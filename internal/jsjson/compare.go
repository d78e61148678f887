package jsjson

import (
	"cmp"
	"unicode/utf8"
)

// Compare orders a and b as JavaScript's < and > order strings: by UTF-16
// code units, so a character above U+FFFF (a surrogate pair, from 0xD800)
// sorts before U+E000 to U+FFFF, where byte order puts it after. It returns
// -1, 0 or +1. Invalid UTF-8 compares as U+FFFD, as it decodes.
func Compare(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		a, b = a[na:], b[nb:]
		if ra == rb {
			continue
		}
		if ka, kb := firstUnit(ra), firstUnit(rb); ka != kb {
			return cmp.Compare(ka, kb)
		}
		// Both above U+FFFF with one high surrogate: the low ones decide,
		// in the order of the code points.
		return cmp.Compare(ra, rb)
	}
	return cmp.Compare(len(a), len(b))
}

// firstUnit is the first UTF-16 code unit of r.
func firstUnit(r rune) rune {
	if r < 0x10000 {
		return r
	}
	return 0xd800 + (r-0x10000)>>10
}
