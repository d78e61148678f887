package token

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nimbus-sh/nimbus/internal/duration"
	"github.com/nimbus-sh/nimbus/internal/jsjson"
)

// ErrInvalidTTL is returned by ParseTTL for text that nimbus refuses as a
// lifetime: not a number, or a number upstream would take but only a
// mistake produces (hexadecimal, octal, binary seconds).
var ErrInvalidTTL = errors.New("invalid ttl")

// ParseTTL reads a token lifetime the way `nimbus token mint --ttl` takes
// it and returns it in milliseconds, ready for Input.TTLMillis.
//
// A number is seconds and is read exactly as upstream's CLI reads it,
// Number(s) * 1000 in float64: JavaScript's white space is trimmed
// (U+FEFF included, U+0085 not), "1.5", ".5", "5." and "1e3" work,
// "Infinity" and "1e400" give Infinity and "-0" gives -0, and nothing is
// rounded, so Mint computes exp = iat + floor(ms / 1000) like upstream
// ("59.9999999999999" is 59 s, "1e-10" is 0 s). Text only white space is
// 0. Ranges are checked by Mint, after the id claims, with upstream's
// error.
//
// nimbus also takes Go durations and days ("15m", "24h", "1d"), which
// upstream reads as NaN. It refuses, with ErrInvalidTTL, what upstream
// turns into NaN otherwise (a token that never verifies) and hexadecimal,
// octal and binary numbers ("0x10"), which upstream accepts.
func ParseTTL(s string) (float64, error) {
	switch v, form := jsjson.ParseNumber(s); form {
	case jsjson.Decimal, jsjson.Blank:
		return v * 1000, nil
	case jsjson.NonDecimal:
		return 0, fmt.Errorf("%w: %q is not decimal; give seconds (3600) or a duration (15m, 24h, 1d)", ErrInvalidTTL, s)
	}
	d, err := duration.Parse(s)
	if errors.Is(err, duration.ErrRange) {
		return 0, fmt.Errorf("%w: %q is too long", ErrInvalidTTL, s)
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %q is neither seconds nor a duration such as 15m, 24h or 1d", ErrInvalidTTL, s)
	}
	return float64(d) / float64(time.Millisecond), nil
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
		parts[i] = jsjson.TrimSpace(p)
	}
	return parts
}
