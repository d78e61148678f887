// Package duration is the one parser for every duration nimbus reads from
// a flag or a config key, so `--timeout 30`, `--ttl 15m` and `1d` mean the
// same everywhere.
//
// Accepted forms, after trimming white space:
//
//   - a bare number is seconds, written as JavaScript's Number() reads a
//     decimal ("30", "1.5", ".5", "1e3"), because upstream's --ttl takes
//     seconds that way;
//   - Go's duration syntax ("90s", "1h30m", "500ms", "-5m");
//   - Go's syntax with days, 24 hours each ("1d", "1d12h", "1.5d").
//
// Hexadecimal, octal and binary numbers, NaN and numeric separators are
// refused: nobody means hexadecimal seconds.
package duration

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-sh/nimbus/internal/jsjson"
)

// Day is the length of the "d" unit.
const Day = 24 * time.Hour

// Error is a duration that cannot be used. Its message does not repeat the
// input, because flag and config errors already quote it.
type Error struct {
	// Input is the text as given.
	Input string
	// Kind is ErrSyntax, ErrNegative, ErrZero, ErrRange or ErrLimit.
	Kind error
	// Reason says what is wrong, e.g. "must be at most 5s".
	Reason string
}

// Error returns the reason alone; callers add the flag or key it came from.
func (e *Error) Error() string { return e.Reason }

// Unwrap returns Kind, so errors.Is(err, duration.ErrRange) works.
func (e *Error) Unwrap() error { return e.Kind }

// Hint says which forms are accepted, for an error's hint line.
const Hint = "give seconds (30) or a duration such as 90s, 15m, 1h30m or 1d"

// The kinds of Error; each has one message wherever it occurs.
var (
	ErrSyntax   = errors.New("not a duration; " + Hint)
	ErrNegative = errors.New("must not be negative")
	ErrZero     = errors.New("must be more than zero")
	ErrRange    = errors.New("is too long; the longest duration is about 292 years")
	ErrLimit    = errors.New("out of the accepted range")
)

func fail(input string, kind error) *Error {
	return &Error{Input: input, Kind: kind, Reason: kind.Error()}
}

// Parse reads s in any accepted form and returns it as is, negative or
// zero included; Limits.Parse also checks the range.
func Parse(s string) (time.Duration, error) {
	t := jsjson.TrimSpace(s)
	if t == "" {
		return 0, fail(s, ErrSyntax)
	}
	switch v, form := jsjson.ParseNumber(t); form {
	case jsjson.Decimal:
		return fromSeconds(s, v)
	case jsjson.NonDecimal:
		return 0, fail(s, ErrSyntax)
	}
	return parseUnits(s, t)
}

// fromSeconds converts seconds to a Duration, rounding to the nanosecond.
func fromSeconds(input string, sec float64) (time.Duration, error) {
	ns := math.Round(sec * 1e9)
	if math.IsInf(sec, 0) || ns >= math.MaxInt64 || ns <= math.MinInt64 {
		return 0, fail(input, ErrRange)
	}
	return time.Duration(ns), nil
}

// parseUnits reads [+-] (number unit)+, handing each component to
// time.ParseDuration so its rounding and units are Go's exactly, and
// scaling "d" components from hours.
func parseUnits(input, s string) (time.Duration, error) {
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, fail(input, ErrSyntax)
	}
	var total int64
	for s != "" {
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		j := i
		for j < len(s) && !(s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
			j++
		}
		num, unit := s[:i], s[i:j]
		s = s[j:]
		if strings.Count(num, ".") > 1 || strings.Trim(num, ".") == "" || !isUnit(unit) {
			return 0, fail(input, ErrSyntax)
		}
		var part time.Duration
		var err error
		if unit == "d" {
			part, err = time.ParseDuration(num + "h")
			if err == nil && part > math.MaxInt64/24 {
				err = ErrRange
			}
			part *= 24
		} else {
			part, err = time.ParseDuration(num + unit)
		}
		if err != nil {
			// The syntax is checked above: what is left is overflow.
			return 0, fail(input, ErrRange)
		}
		if int64(part) > math.MaxInt64-total {
			return 0, fail(input, ErrRange)
		}
		total += int64(part)
	}
	if neg {
		total = -total
	}
	return time.Duration(total), nil
}

func isUnit(u string) bool {
	switch u {
	case "ns", "us", "µs", "μs", "ms", "s", "m", "h", "d":
		return true
	}
	return false
}

// Limits says which durations a flag or key accepts. The zero value
// accepts any positive duration.
type Limits struct {
	// AllowZero accepts 0, for settings where zero means "none" (no
	// timeout).
	AllowZero bool
	// Min and Max bound the value when they are not zero.
	Min, Max time.Duration
}

// Parse parses s and checks it against l.
func (l Limits) Parse(s string) (time.Duration, error) {
	d, err := Parse(s)
	if err != nil {
		return 0, err
	}
	return d, l.Check(s, d)
}

// Check reports whether d, parsed from input, is within l.
func (l Limits) Check(input string, d time.Duration) error {
	switch {
	case d < 0:
		return fail(input, ErrNegative)
	case d == 0 && l.AllowZero:
		return nil
	case d == 0:
		return fail(input, ErrZero)
	case l.Min > 0 && d < l.Min:
		return &Error{Input: input, Kind: ErrLimit, Reason: "must be at least " + Format(l.Min)}
	case l.Max > 0 && d > l.Max:
		return &Error{Input: input, Kind: ErrLimit, Reason: "must be at most " + Format(l.Max)}
	}
	return nil
}

// Format writes d the way nimbus shows durations: Go's syntax without
// zero trailing units ("24h", "1h30m", "250ms"), and days for whole days
// ("30d"), and "0" for zero.
func Format(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	if d%Day == 0 {
		return strconv.FormatInt(int64(d/Day), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Human writes d for people, the one way every command shows a span of
// time in prose (an expiry, an age, a wait): in its largest two units,
// "45s", "15m", "1h30m", "2d3h", so a 24-hour token "expires in 1d", not
// "24h0m0s". It rounds to the smallest unit it shows, never cuts: cut, a
// 24-hour token read "1d" in the second it was minted and "23h59m" from
// the next one on, so two reports a second apart disagreed. Under a
// minute, a span that is not whole seconds keeps its milliseconds
// ("250ms", "1.234s"): a measured latency would otherwise read "0s". JSON
// output keeps its own (numeric) fields.
func Human(d time.Duration) string {
	if d < 0 {
		return "-" + Human(-d)
	}
	if d < time.Minute && d%time.Second != 0 {
		return d.Round(time.Millisecond).String()
	}
	d = d.Round(time.Second)
	switch {
	case d >= Day:
		d = d.Round(time.Hour)
	case d >= time.Hour:
		d = d.Round(time.Minute)
	}
	days := d / Day
	d -= days * Day
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	s := (d - m*time.Minute) / time.Second
	switch {
	case days > 0 && h > 0:
		return strconv.FormatInt(int64(days), 10) + "d" + strconv.FormatInt(int64(h), 10) + "h"
	case days > 0:
		return strconv.FormatInt(int64(days), 10) + "d"
	case h > 0 && m > 0:
		return strconv.FormatInt(int64(h), 10) + "h" + strconv.FormatInt(int64(m), 10) + "m"
	case h > 0:
		return strconv.FormatInt(int64(h), 10) + "h"
	case m > 0 && s > 0:
		return strconv.FormatInt(int64(m), 10) + "m" + strconv.FormatInt(int64(s), 10) + "s"
	case m > 0:
		return strconv.FormatInt(int64(m), 10) + "m"
	}
	return strconv.FormatInt(int64(s), 10) + "s"
}
