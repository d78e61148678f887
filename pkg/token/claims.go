package token

import (
	"math"
	"time"

	"github.com/nimbus-sh/nimbus/internal/jsjson"
)

// Claims is a verified token payload, kept exactly as sent: every claim,
// unknown ones included, in payload order. Accessors give typed views of
// the claims Nimbus defines.
type Claims struct {
	// src is the payload JSON; kind its root kind. Verification indexes
	// only the claims Nimbus defines (idx); the full member list, needed
	// only to list or print the claims, is built on demand.
	src  string
	kind jsjson.Kind
	idx  claimIndex
}

// The claims Nimbus defines, indexed once so that verification does not
// scan the members for each of them.
const (
	cScope = iota
	cTn
	cSub
	cScopes
	cSid
	cJti
	cIat
	cExp
	numKnown
)

type claimIndex struct {
	raw [numKnown]string
	has [numKnown]bool
}

// scanClaims validates the payload and indexes the claims Nimbus defines.
func scanClaims(src string) (Claims, error) {
	c := Claims{src: src}
	kind, err := jsjson.ScanTop(src, c.idx.add)
	c.kind = kind
	return c, err
}

func (x *claimIndex) add(key, raw string) {
	i := -1
	switch key {
	case "scope":
		i = cScope
	case "tn":
		i = cTn
	case "sub":
		i = cSub
	case "scopes":
		i = cScopes
	case "sid":
		i = cSid
	case "jti":
		i = cJti
	case "iat":
		i = cIat
	case "exp":
		i = cExp
	}
	if i >= 0 {
		x.raw[i], x.has[i] = raw, true
	}
}

// top returns every member, in JavaScript's order.
func (c Claims) top() jsjson.Top {
	t, err := jsjson.ParseTopString(c.src)
	if err != nil || t.Kind != jsjson.Object {
		return jsjson.Top{Kind: c.kind}
	}
	return t
}

func (c Claims) known(i int) (string, bool) { return c.idx.raw[i], c.idx.has[i] }

func (c Claims) raw(name string) (string, bool) {
	for _, m := range c.top().Members {
		if m.Key == name {
			return m.Raw, true
		}
	}
	return "", false
}

// Tenant returns the tn claim.
func (c Claims) Tenant() string { return c.str(cTn) }

// Subject returns the sub claim and whether it is present.
func (c Claims) Subject() (string, bool) { return c.optStr(cSub) }

// SessionID returns the sid claim (the session or sandbox pin) and whether
// it is present.
func (c Claims) SessionID() (string, bool) { return c.optStr(cSid) }

// JTI returns the jti claim (single-use id) and whether it is present.
func (c Claims) JTI() (string, bool) { return c.optStr(cJti) }

// Scopes returns the scopes claim and whether it is present. An absent
// claim means legacy full trust; a present empty list grants nothing.
func (c Claims) Scopes() ([]string, bool) {
	raw, ok := c.known(cScopes)
	if !ok || !jsjson.IsArrayOfStrings(raw) {
		return nil, false
	}
	v, err := jsjson.Parse([]byte(raw))
	if err != nil {
		return nil, false
	}
	out := make([]string, len(v.Items))
	for i, e := range v.Items {
		out[i] = e.Value.Str
	}
	return out, true
}

// IssuedAt returns the iat claim in UNIX seconds; 0 when it is missing or
// not a number, which CheckUsable and Verify refuse (E_TOKEN_CLAIMS) and
// CheckDates reports.
func (c Claims) IssuedAt() float64 { return c.num(cIat) }

// ExpiresAt returns the exp claim in UNIX seconds (fractional values are
// legal and kept); 0 when it is missing or not a number, which
// CheckUsable and Verify refuse (E_TOKEN_CLAIMS) before reading it and
// CheckDates reports: a view of a decoded token asks it first.
func (c Claims) ExpiresAt() float64 { return c.num(cExp) }

// ExpiresTime returns exp as a time.Time, saturated to the years 1 to 9999
// (an exp of 1e300 or Infinity is the end of 9999, not an overflow).
func (c Claims) ExpiresTime() time.Time { return secondsToTime(c.ExpiresAt()) }

// IssuedTime returns iat as a time.Time.
func (c Claims) IssuedTime() time.Time { return secondsToTime(c.IssuedAt()) }

// Keys returns the claim names in payload order.
func (c Claims) Keys() []string {
	members := c.top().Members
	keys := make([]string, len(members))
	for i, m := range members {
		keys[i] = m.Key
	}
	return keys
}

// Each calls fn with the name and JSON text (as Raw writes it) of every
// claim, in payload order. It reads the payload once; calling Raw for each
// of Keys reads it once per claim, which for a token of thousands of claims
// is quadratic.
func (c Claims) Each(fn func(name, raw string)) {
	for _, m := range c.top().Members {
		fn(m.Key, jsjson.Normalize(m.Raw))
	}
}

// Raw returns the JSON text of one claim as JSON.stringify would write it,
// and whether the claim is present.
func (c Claims) Raw(name string) (string, bool) {
	raw, ok := c.raw(name)
	if !ok {
		return "", false
	}
	return jsjson.Normalize(raw), true
}

// MarshalJSON writes the claims compactly, in payload order, with the
// escaping and number formatting of JavaScript's JSON.stringify.
func (c Claims) MarshalJSON() ([]byte, error) {
	if c.kind != jsjson.Object {
		return []byte("{}"), nil
	}
	return jsjson.Marshal(c.top().ToValue()), nil
}

// DOInstanceName returns "<tn>:<sub>" or "<tn>:_" without a subject: the
// prefix of every Durable Object name derived from these claims.
func (c Claims) DOInstanceName() string {
	sub, ok := c.Subject()
	if !ok {
		sub = "_"
	}
	return c.Tenant() + ":" + sub
}

func (c Claims) str(i int) string {
	s, _ := c.optStr(i)
	return s
}

func (c Claims) optStr(i int) (string, bool) {
	raw, ok := c.known(i)
	if !ok {
		return "", false
	}
	return jsjson.StringOf(raw)
}

func (c Claims) num(i int) float64 {
	raw, _ := c.known(i)
	f, _ := jsjson.NumberOf(raw)
	return f
}

// Bounds of secondsToTime: the years 1 and 9999, far outside any real
// token, well inside what time.Time compares correctly.
const (
	minUnixSeconds = -62135596800 // 0001-01-01T00:00:00Z
	maxUnixSeconds = 253402300799 // 9999-12-31T23:59:59Z
)

// secondsToTime converts a NumericDate, saturating: an exp no clock
// reaches (1e300, or Infinity from 1e400, both valid upstream) is the end
// of year 9999, not an int64 overflow that time.Time takes for the past.
// NaN (never a JSON number) is the zero time.
func secondsToTime(sec float64) time.Time {
	switch {
	case math.IsNaN(sec):
		return time.Time{}
	case sec >= maxUnixSeconds:
		return time.Unix(maxUnixSeconds, 0)
	case sec <= minUnixSeconds:
		return time.Unix(minUnixSeconds, 0)
	}
	whole, frac := math.Modf(sec)
	return time.Unix(int64(whole), int64(frac*1e9))
}
