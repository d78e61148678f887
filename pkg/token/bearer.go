package token

import (
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/nimbus-sh/nimbus/internal/jsjson"
)

// Where a Worker accepts a token, in order of precedence.
const (
	// QueryParam is the query parameter carrying a token (attach links).
	QueryParam = "nimbus_token"
	// CookieName is the cookie the attach exchange sets. Older upstream
	// versions used "nimbus_token", which is no longer read.
	CookieName = "__Host-nimbus_token"
)

// matchBearer is upstream's /^Bearer\s+(.+)$/i evaluated as JavaScript
// does: ASCII-only case folding, JavaScript's (wider) \s, and a '.' that
// matches anything but a line terminator. It returns the captured token.
func matchBearer(h string) (string, bool) {
	if len(h) < 6 || !strings.EqualFold(h[:6], "bearer") {
		return "", false
	}
	rest := h[6:]
	// \s+ is tried longest first, as backtracking does. Every shorter
	// try leaves a capture that ends with the longest one's, so when that
	// holds a line terminator they all do; only when the whitespace runs
	// to the end (an empty capture) does a shorter try matter, and then
	// the next one captures the run's last character alone.
	n, last, runes := 0, rune(0), 0
	for i, r := range rest {
		if !jsjson.IsSpace(r) {
			break
		}
		n, last = i+utf8.RuneLen(r), r
		runes++
	}
	switch {
	case runes == 0:
		return "", false
	case n < len(rest):
		if tok := rest[n:]; !hasLineTerminator(tok) {
			return tok, true
		}
	case runes >= 2 && !isLineTerminator(last):
		return rest[n-utf8.RuneLen(last):], true
	}
	return "", false
}

func isLineTerminator(r rune) bool { return r == '\n' || r == '\r' || r == 0x2028 || r == 0x2029 }

// hasLineTerminator is strings.ContainsFunc(s, isLineTerminator) in four
// vectorised scans instead of a decode per character (a token is a few
// hundred bytes, on every request). An encoded U+2028 or U+2029 is found
// wherever it is, as decoding would: an invalid byte before it is skipped
// alone, and its lead byte 0xE2 is no other character's continuation.
func hasLineTerminator(s string) bool {
	return strings.IndexByte(s, '\n') >= 0 || strings.IndexByte(s, '\r') >= 0 ||
		strings.Contains(s, "\u2028") || strings.Contains(s, "\u2029")
}

// ExtractBearer finds the token a Worker would read from r: the
// Authorization header ("Bearer <token>", any case), else the first
// nimbus_token query parameter, else the first non-empty
// __Host-nimbus_token cookie. An empty value at a source falls through to
// the next one. A cookie with a malformed percent escape fails as upstream's
// router does, with E_AUTH_UNKNOWN (500).
func ExtractBearer(r *http.Request) (string, error) {
	// Fetch's Headers.get joins repeated headers with ", ".
	if h := strings.Join(r.Header.Values("Authorization"), ", "); h != "" {
		if tok, ok := matchBearer(h); ok {
			return tok, nil
		}
	}
	if r.URL != nil {
		if v, ok := firstQueryValue(r.URL.RawQuery, QueryParam); ok && v != "" {
			return v, nil
		}
	}
	if c := strings.Join(r.Header.Values("Cookie"), "; "); c != "" {
		for piece := range strings.SplitSeq(c, ";") {
			name, value, ok := strings.Cut(jsjson.TrimSpace(piece), "=")
			if !ok || name != CookieName {
				continue
			}
			value, _, _ = strings.Cut(value, "=") // upstream keeps only the first two '='-pieces
			if value == "" {
				continue
			}
			decoded, err := decodeURIComponent(value)
			if err != nil {
				return "", &Error{Code: CodeAuthUnknown, HTTPStatus: http.StatusInternalServerError, Message: "Internal auth error", cause: err}
			}
			return decoded, nil
		}
	}
	return "", errMalformed("no Bearer token in Authorization header, nimbus_token query, or cookie")
}

// firstQueryValue parses a query string as URLSearchParams does: '&'
// separated, '+' is a space, invalid percent escapes stay literal, and the
// bytes are decoded as UTF-8 with replacement.
func firstQueryValue(raw, name string) (string, bool) {
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if formDecode(k) == name {
			return formDecode(v), true
		}
	}
	return "", false
}

func formDecode(s string) string {
	if !strings.ContainsAny(s, "+%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return jsjson.DecodeUTF8(b)
}

var errURIMalformed = errors.New("URIError: URI malformed")

// decodeURIComponent mirrors JavaScript's: every '%' must start a valid
// escape and the escaped bytes must form valid UTF-8.
func decodeURIComponent(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", errURIMalformed
		}
		b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
		i += 2
	}
	if !utf8.Valid(b) {
		return "", errURIMalformed
	}
	return string(b), nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
