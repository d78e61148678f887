// Package jsnumref is a reference model of JavaScript's Number() for
// strings, written straight from the ECMAScript grammar (a regular
// expression per production) with exact rational arithmetic. It is slow
// and exists only so tests can fuzz the real implementation
// (jsjson.ParseNumber) and the parsers built on it differentially.
package jsnumref

import (
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// The reference model: ECMA-262 §7.1.4.1.1 StringNumericLiteral as a
// regular expression, one alternative per production.
var (
	strWhiteSpaceChar = `[\t\v\f \x{a0}\x{1680}\x{2000}-\x{200a}\x{202f}\x{205f}\x{3000}\x{feff}\n\r\x{2028}\x{2029}]`
	decimalDigits     = `[0-9]+`
	exponentPart      = `[eE][+-]?` + decimalDigits
	strUnsignedDec    = `(?:Infinity|` + decimalDigits + `\.(?:` + decimalDigits + `)?(?:` + exponentPart + `)?|\.` + decimalDigits + `(?:` + exponentPart + `)?|` + decimalDigits + `(?:` + exponentPart + `)?)`
	refGrammar        = regexp.MustCompile(`^` + strWhiteSpaceChar + `*(?:` +
		`(?P<dec>[+-]?` + strUnsignedDec + `)` +
		`|0[bB](?P<bin>[01]+)|0[oO](?P<oct>[0-7]+)|0[xX](?P<hex>[0-9a-fA-F]+)` +
		`)?` + strWhiteSpaceChar + `*$`)
)

// Number computes Number(s) from the grammar above with exact
// arithmetic: the literal's mathematical value as a big.Rat, rounded to
// the nearest float64 (ties to even).
func Number(s string) float64 {
	// Invalid UTF-8 reads as U+FFFD, which no production contains.
	m := refGrammar.FindStringSubmatch(s)
	if m == nil {
		return math.NaN()
	}
	group := func(name string) string { return m[refGrammar.SubexpIndex(name)] }
	for _, g := range []struct {
		name string
		base int
	}{{"bin", 2}, {"oct", 8}, {"hex", 16}} {
		if d := group(g.name); d != "" {
			n, _ := new(big.Int).SetString(d, g.base)
			v, _ := new(big.Float).SetInt(n).Float64()
			return v
		}
	}
	dec := group("dec")
	if dec == "" {
		return 0 // only white space
	}
	neg := dec[0] == '-'
	if dec[0] == '+' || dec[0] == '-' {
		dec = dec[1:]
	}
	var v float64
	if dec == "Infinity" {
		v = math.Inf(1)
	} else {
		v = exactDecimal(dec)
	}
	if neg {
		v = -v
	}
	return v
}

// NonDecimal reports whether s is a binary, octal or hexadecimal
// StringNumericLiteral ("0x10", " 0b11 ").
func NonDecimal(s string) bool {
	m := refGrammar.FindStringSubmatch(s)
	return m != nil && (m[refGrammar.SubexpIndex("bin")] != "" || m[refGrammar.SubexpIndex("oct")] != "" || m[refGrammar.SubexpIndex("hex")] != "")
}

// exactDecimal rounds digits[.digits][e±n] to float64 through big.Rat.
// Exponents beyond ±400 plus the digit count cannot be finite non-zero
// doubles, so they short-cut to the limit instead of building a huge Rat.
func exactDecimal(lit string) float64 {
	mant, exp := lit, int64(0)
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		mant = lit[:i]
		e, err := strconv.ParseInt(lit[i+1:], 10, 64)
		if err != nil { // more digits than int64: clamp, the sign decides
			e = math.MaxInt64 / 2
			if lit[i+1] == '-' {
				e = -e
			}
		}
		exp = e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return 0
	}
	// value = digits × 10^(exp − len(frac))
	scale := exp - int64(len(frac))
	magnitude := scale + int64(len(digits)) // value is about 10^magnitude
	switch {
	case magnitude > 400:
		return math.Inf(1)
	case magnitude < -400:
		return 0
	}
	r, _ := new(big.Rat).SetString(digits)
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(abs(scale)), nil)
	if scale >= 0 {
		r.Mul(r, new(big.Rat).SetInt(p))
	} else {
		r.Quo(r, new(big.Rat).SetInt(p))
	}
	v, _ := r.Float64()
	return v
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
