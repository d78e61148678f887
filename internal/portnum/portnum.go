// Package portnum reads a TCP port number as people and URLs write it:
// plain decimal digits, the one parser of every port nimbus reads (a
// sandbox port, forward's PORT:LOCAL, --addr and --http, app targets, the
// local backend's preview routes).
package portnum

import (
	"errors"
	"strconv"
	"strings"
)

// ErrForm says the text is not a port number written plainly.
var ErrForm = errors.New("not a port number: write decimal digits only (no sign, spaces or leading zeros)")

// ErrRange says the number is outside the range asked for.
var ErrRange = errors.New("port number out of range")

// Parse reads s as a port from min to 65535 (min is 0 or 1). Only the
// canonical decimal form is a port: "3000", and "0" when min is 0. A sign
// ("+3000"), white space (" 3000"), leading zeros ("03000", which some
// tools read as octal), digits other than ASCII, or an empty string are
// refused with ErrForm, as the spec's `^[1-9]\d{0,4}$`; a number outside
// min..65535 with ErrRange.
func Parse(s string, min int) (int, error) {
	if s == "" || !digits(s) || s[0] == '0' && len(s) > 1 {
		return 0, ErrForm
	}
	if len(s) > 5 {
		return 0, ErrRange
	}
	n, _ := strconv.Atoi(s) // at most five digits
	if n < min || n > 65535 {
		return 0, ErrRange
	}
	return n, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Suggest returns the plain form of a port Parse refused for its form
// (" +03000" gives "3000"), for a hint, or "" when there is none: only
// surrounding white space, one plus sign and leading zeros are dropped.
func Suggest(s string, min int) string {
	t := strings.TrimSpace(s)
	t = strings.TrimPrefix(t, "+")
	t = strings.TrimLeft(t, "0")
	if t == "" && strings.Contains(s, "0") {
		t = "0"
	}
	if t == s {
		return ""
	}
	if _, err := Parse(t, min); err != nil {
		return ""
	}
	return t
}
