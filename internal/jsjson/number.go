package jsjson

import (
	"math"
	"strconv"
	"strings"
)

// NumberForm says which production of ECMAScript's StringNumericLiteral a
// string matched, so callers can accept Number()'s values but refuse forms
// that are a user's mistake in their context (hexadecimal seconds, say).
type NumberForm int

// The forms ParseNumber reports.
const (
	// NotANumber: the string is not a StringNumericLiteral; Number() is NaN.
	NotANumber NumberForm = iota
	// Blank: the string is empty or only white space; Number() is 0.
	Blank
	// Decimal: an optionally signed decimal literal or Infinity ("1.5",
	// ".5", "5.", "-1e3", "+Infinity").
	Decimal
	// NonDecimal: an unsigned binary, octal or hexadecimal integer
	// ("0b11", "0o7", "0x10").
	NonDecimal
)

// IsSpace reports whether r is white space for JavaScript's trim, \s and
// Number(): WhiteSpace (tab, vertical tab, form feed, U+FEFF and the Zs
// category) and LineTerminator (LF, CR, U+2028, U+2029). U+0085 and U+180E
// are not.
func IsSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

// TrimSpace is String.prototype.trim.
func TrimSpace(s string) string { return strings.TrimFunc(s, IsSpace) }

// StringToNumber is JavaScript's Number(s) for a string s (ECMA-262
// StringToNumber): NaN unless s, trimmed, is a StringNumericLiteral.
func StringToNumber(s string) float64 {
	v, _ := ParseNumber(s)
	return v
}

// ParseNumber is StringToNumber that also reports which form matched.
// Values are correctly rounded to the nearest float64 (ties to even), as
// V8 does for every length of input; out-of-range decimals become ±Inf or
// ±0.
func ParseNumber(s string) (float64, NumberForm) {
	s = TrimSpace(s)
	if s == "" {
		return 0, Blank
	}
	if len(s) > 2 && s[0] == '0' {
		switch s[1] {
		case 'x', 'X':
			return nonDecimal(s[2:], 4)
		case 'o', 'O':
			return nonDecimal(s[2:], 3)
		case 'b', 'B':
			return nonDecimal(s[2:], 1)
		}
	}
	if !isDecimalLiteral(s) {
		return math.NaN(), NotANumber
	}
	body := s
	if body[0] == '+' || body[0] == '-' {
		body = body[1:]
	}
	if body == "Infinity" {
		if s[0] == '-' {
			return math.Inf(-1), Decimal
		}
		return math.Inf(1), Decimal
	}
	// The syntax is checked above, so the only possible error is
	// ErrRange, whose value (±Inf or ±0) is Number()'s answer too.
	v, _ := strconv.ParseFloat(s, 64)
	return v, Decimal
}

// isDecimalLiteral matches StrDecimalLiteral:
// [+-]? ( Infinity | digits [. digits?] exp? | . digits exp? ), with
// exp = [eE] [+-]? digits. Unlike strconv it refuses "_", "inf", "nan"
// and hexadecimal floats.
func isDecimalLiteral(s string) bool {
	i := 0
	if s[0] == '+' || s[0] == '-' {
		i++
	}
	if s[i:] == "Infinity" {
		return true
	}
	n := countDigits(s[i:])
	i += n
	if i < len(s) && s[i] == '.' {
		i++
		f := countDigits(s[i:])
		i += f
		n += f
	}
	if n == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		e := countDigits(s[i:])
		if e == 0 {
			return false
		}
		i += e
	}
	return i == len(s)
}

func countDigits(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// nonDecimal converts the digits of a 0x, 0o or 0b literal (bits bits per
// digit) with round-half-even, by rewriting them as a hexadecimal float
// that strconv rounds correctly at any length.
func nonDecimal(digits string, bits uint) (float64, NumberForm) {
	if digits == "" {
		return math.NaN(), NotANumber
	}
	var hex []byte
	if bits == 4 {
		for i := 0; i < len(digits); i++ {
			if digitValue(digits[i]) >= 16 {
				return math.NaN(), NotANumber
			}
		}
		hex = append(append([]byte("0x"), digits...), "p0"...)
	} else {
		// Regroup the binary expansion into hex digits from the right.
		base := byte(1) << bits
		acc, n := 0, uint(0)
		rev := make([]byte, 0, len(digits)*int(bits)/4+1)
		for i := len(digits) - 1; i >= 0; i-- {
			d := digitValue(digits[i])
			if d >= base {
				return math.NaN(), NotANumber
			}
			acc |= int(d) << n
			n += bits
			for n >= 4 {
				rev = append(rev, "0123456789abcdef"[acc&15])
				acc >>= 4
				n -= 4
			}
		}
		if n > 0 {
			rev = append(rev, "0123456789abcdef"[acc])
		}
		hex = append(hex, "0x"...)
		for i := len(rev) - 1; i >= 0; i-- {
			hex = append(hex, rev[i])
		}
		hex = append(hex, "p0"...)
	}
	v, _ := strconv.ParseFloat(string(hex), 64)
	return v, NonDecimal
}

func digitValue(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 255
}
