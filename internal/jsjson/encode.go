package jsjson

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// AppendQuote appends s as a JSON string literal exactly as
// JSON.stringify writes the string a TextDecoder ("utf-8", BOM kept) reads
// from s: only '"', '\\' and U+0000..U+001F are escaped, using the short
// escapes \b \f \n \r \t where they exist and lowercase \u00xx otherwise.
// Everything else, including '<', '>', '&', DEL, U+2028 and U+2029, is
// written raw. Each maximal invalid UTF-8 subsequence is written as one raw
// U+FFFD, as TextDecoder replaces it (see DecodeUTF8), so no lone surrogate
// can reach the output.
func AppendQuote(dst []byte, s string) []byte { return appendQuote(dst, s) }

// AppendQuoteBytes is AppendQuote for bytes, without converting them to a
// string first: the terminal frames encode every output burst with it.
func AppendQuoteBytes(dst, s []byte) []byte { return appendQuote(dst, s) }

func appendQuote[S ~string | ~[]byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		n, ok := sequence(s, i)
		if !ok {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			start = i + n
		}
		i += n
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Quote returns s as a JSON string literal, see AppendQuote.
func Quote(s string) string { return string(AppendQuote(nil, s)) }

// FormatNumber formats f the way JavaScript's Number#toString does: the
// shortest round-tripping digits, plain notation for exponents in [-7, 21)
// and "1e+21" style otherwise; NaN and infinities by name.
func FormatNumber(f float64) string {
	return string(AppendNumber(nil, f))
}

// AppendNumber appends FormatNumber(f) to dst.
func AppendNumber(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	case f == 0:
		return append(dst, '0') // -0 prints as 0 in JavaScript
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		if math.Abs(f) < 1<<53 {
			return strconv.AppendInt(dst, int64(f), 10)
		}
	}
	if f < 0 {
		dst = append(dst, '-')
		f = -f
	}
	// Shortest digits and decimal exponent, as ECMAScript Number::toString.
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	mant, expPart, _ := strings.Cut(string(e), "e")
	digits := strings.Replace(mant, ".", "", 1)
	exp, _ := strconv.Atoi(expPart)
	k := len(digits)
	n := exp + 1 // position of the decimal point relative to the digits
	switch {
	case k <= n && n <= 21:
		dst = append(dst, digits...)
		for i := 0; i < n-k; i++ {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, digits[:n]...)
		dst = append(dst, '.')
		dst = append(dst, digits[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		for i := 0; i < -n; i++ {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	default:
		dst = append(dst, digits[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		if n-1 >= 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(n-1), 10)
	}
	return dst
}

// Marshal returns v as compact JSON, as JSON.stringify(v) would.
func Marshal(v Value) []byte { return appendValue(nil, v, "", "") }

// MarshalIndent returns v as JSON.stringify(v, null, indent) would: one
// member or element per line, "[]" and "{}" for empty containers, no
// trailing newline.
func MarshalIndent(v Value, indent string) []byte { return appendValue(nil, v, indent, "") }

func appendValue(dst []byte, v Value, indent, cur string) []byte {
	switch v.Kind {
	case Null:
		return append(dst, "null"...)
	case Bool:
		if v.Bool {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case Number:
		if math.IsNaN(v.Num) || math.IsInf(v.Num, 0) {
			return append(dst, "null"...) // JSON.stringify writes non-finite numbers as null
		}
		return AppendNumber(dst, v.Num)
	case String:
		return AppendQuote(dst, v.Str)
	case Array:
		if len(v.Items) == 0 {
			return append(dst, '[', ']')
		}
		inner := cur + indent
		dst = append(dst, '[')
		for i, e := range v.Items {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = newline(dst, indent, inner)
			dst = appendValue(dst, e.Value, indent, inner)
		}
		dst = newline(dst, indent, cur)
		return append(dst, ']')
	case Object:
		if len(v.Items) == 0 {
			return append(dst, '{', '}')
		}
		inner := cur + indent
		dst = append(dst, '{')
		for i, m := range v.Items {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = newline(dst, indent, inner)
			dst = AppendQuote(dst, m.Key)
			dst = append(dst, ':')
			if indent != "" {
				dst = append(dst, ' ')
			}
			dst = appendValue(dst, m.Value, indent, inner)
		}
		dst = newline(dst, indent, cur)
		return append(dst, '}')
	}
	return append(dst, "null"...)
}

func newline(dst []byte, indent, cur string) []byte {
	if indent == "" {
		return dst
	}
	dst = append(dst, '\n')
	return append(dst, cur...)
}
