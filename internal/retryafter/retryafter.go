// Package retryafter reads an HTTP Retry-After field value (RFC 9110
// §10.2.3) the one way every nimbus client reads it, so that a value one
// client honours is never garbage, or a different wait, to another. What a
// missing or invalid value means (no retry, a default wait, a backoff) and
// how long a caller is willing to wait stay the caller's policy.
package retryafter

import (
	"net/http"
	"time"
)

// MaxDelay is the longest wait Parse returns: 2^31 seconds (about 68
// years), the value RFC 9111 §1.2.2 gives a delta-seconds too large to
// represent. A bigger number of seconds, or a date further ahead, is
// clamped to it rather than wrapping into a negative (retry at once) wait;
// it still fits a time.Duration, and every caller caps far below it.
const MaxDelay = maxSeconds * time.Second

const maxSeconds = 1 << 31

// rfc850 is the obsolete RFC 850 form with the zone spelled out as GMT, as
// RFC 9110 §5.6.7 requires: http.ParseTime's layout takes any zone
// abbreviation, and an abbreviation the local time zone happens to define
// would shift the date by the machine's offset.
const rfc850 = "Monday, 02-Jan-06 15:04:05 GMT"

// Parse reads v, a Retry-After field value: delay-seconds (one or more
// ASCII digits) or an HTTP-date in any of its three forms (IMF-fixdate,
// RFC 850, asctime), taken relative to now; a date that has passed is no
// wait. Spaces and tabs around the value are ignored. ok is false for
// anything else: an empty value, a sign, a fraction, an exponent, "Inf",
// digits followed by other text ("5abc"), a date in another zone.
func Parse(v string, now time.Time) (wait time.Duration, ok bool) {
	v = trimOWS(v)
	if v == "" {
		return 0, false
	}
	if secs, ok := seconds(v); ok {
		return time.Duration(secs) * time.Second, true
	}
	for _, layout := range [...]string{http.TimeFormat, rfc850, time.ANSIC} {
		if t, err := time.Parse(layout, v); err == nil {
			// Sub saturates instead of overflowing, so the clamp below
			// sees a date in year 9999 as a huge wait, not a negative one.
			return min(max(t.Sub(now), 0), MaxDelay), true
		}
	}
	return 0, false
}

// seconds reads 1*DIGIT, clamping at maxSeconds; ok is false if v holds
// anything but digits.
func seconds(v string) (n int64, ok bool) {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < maxSeconds {
			n = n*10 + int64(c-'0')
		}
	}
	return min(n, maxSeconds), true
}

// trimOWS strips the optional whitespace of RFC 9110 §5.6.3 (SP and HTAB)
// that may surround a field value.
func trimOWS(v string) string {
	for v != "" && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for v != "" && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}
