package token

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidTTL is returned by ParseTTL for text that is neither a number
// of seconds nor a Go duration.
var ErrInvalidTTL = errors.New("invalid ttl")

// ParseTTL reads a token lifetime the way `nimbus token mint --ttl` takes
// it: a decimal number of seconds as upstream's CLI accepts ("3600", "1.5",
// "1e3"), or a Go duration ("15m", "24h"). Hexadecimal, NaN and infinite
// values, which upstream's Number() conversion let through, are rejected
// here because they only ever produce broken tokens. The range is checked
// by Mint, so the error there keeps upstream's wording.
func ParseTTL(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("%w: empty", ErrInvalidTTL)
	}
	if isDecimal(s) {
		sec, err := strconv.ParseFloat(s, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("%w: %q", ErrInvalidTTL, s)
		}
		ms := sec * 1000
		if math.IsInf(ms, 0) || math.Abs(ms) > float64(math.MaxInt64/int64(time.Millisecond)) {
			return 0, fmt.Errorf("%w: %q is out of range", ErrInvalidTTL, s)
		}
		return time.Duration(math.Round(ms * float64(time.Millisecond))), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is neither seconds nor a duration such as 15m or 24h", ErrInvalidTTL, s)
	}
	return d, nil
}

// isDecimal accepts [+-]digits[.digits][e[+-]digits] and rejects the hex,
// octal, binary, Infinity and NaN forms strconv.ParseFloat would also take.
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

// ParseScopes splits a comma-separated scope list as upstream's CLI does:
// each item is trimmed and empty items are kept ("a,,b" is three scopes).
// An empty string means no scopes claim at all, and returns nil.
func ParseScopes(s string) []string {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = jsTrim(p)
	}
	return parts
}
