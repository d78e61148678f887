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
	top jsjson.Top
}

func (c Claims) raw(name string) (string, bool) {
	for _, m := range c.top.Members {
		if m.Key == name {
			return m.Raw, true
		}
	}
	return "", false
}

// Tenant returns the tn claim.
func (c Claims) Tenant() string { return c.str("tn") }

// Subject returns the sub claim and whether it is present.
func (c Claims) Subject() (string, bool) { return c.optStr("sub") }

// SessionID returns the sid claim (the session or sandbox pin) and whether
// it is present.
func (c Claims) SessionID() (string, bool) { return c.optStr("sid") }

// JTI returns the jti claim (single-use id) and whether it is present.
func (c Claims) JTI() (string, bool) { return c.optStr("jti") }

// Scopes returns the scopes claim and whether it is present. An absent
// claim means legacy full trust; a present empty list grants nothing.
func (c Claims) Scopes() ([]string, bool) {
	raw, ok := c.raw("scopes")
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

// IssuedAt returns the iat claim in UNIX seconds.
func (c Claims) IssuedAt() float64 { return c.num("iat") }

// ExpiresAt returns the exp claim in UNIX seconds (fractional values are
// legal and kept).
func (c Claims) ExpiresAt() float64 { return c.num("exp") }

// ExpiresTime returns exp as a time.Time.
func (c Claims) ExpiresTime() time.Time { return secondsToTime(c.ExpiresAt()) }

// IssuedTime returns iat as a time.Time.
func (c Claims) IssuedTime() time.Time { return secondsToTime(c.IssuedAt()) }

// Keys returns the claim names in payload order.
func (c Claims) Keys() []string {
	keys := make([]string, len(c.top.Members))
	for i, m := range c.top.Members {
		keys[i] = m.Key
	}
	return keys
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
	if c.top.Kind != jsjson.Object {
		return []byte("{}"), nil
	}
	return jsjson.Marshal(c.top.ToValue()), nil
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

func (c Claims) str(name string) string {
	s, _ := c.optStr(name)
	return s
}

func (c Claims) optStr(name string) (string, bool) {
	raw, ok := c.raw(name)
	if !ok {
		return "", false
	}
	return jsjson.StringOf(raw)
}

func (c Claims) num(name string) float64 {
	raw, _ := c.raw(name)
	f, _ := jsjson.NumberOf(raw)
	return f
}

func secondsToTime(sec float64) time.Time {
	whole, frac := math.Modf(sec)
	return time.Unix(int64(whole), int64(frac*1e9))
}
