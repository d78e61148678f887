package tokencli

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/duration"
	"github.com/nimbus-sh/nimbus/internal/jsjson"
	"github.com/nimbus-sh/nimbus/internal/style"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// UpstreamVerifyJSON is exactly what upstream's `nimbus token verify`
// prints: JSON.stringify({claims, doInstanceName}, null, 2) and a newline.
func UpstreamVerifyJSON(v *token.Verified) []byte {
	claims := claimsValue(v.Claims)
	obj := jsjson.Value{Kind: jsjson.Object, Items: []jsjson.Member{
		{Key: "claims", Value: claims},
		{Key: "doInstanceName", Value: jsjson.StringValue(v.DOInstanceName)},
	}}
	return append(jsjson.MarshalIndent(obj, "  "), '\n')
}

// VerifyJSON is the --json form: upstream's object plus which secret
// matched and the seconds left before expiry.
func VerifyJSON(v *token.Verified, now time.Time) jsjson.Value {
	left := v.Claims.ExpiresAt() - math.Floor(float64(now.UnixMilli())/1000)
	obj := jsjson.Value{Kind: jsjson.Object, Items: []jsjson.Member{
		{Key: "claims", Value: claimsValue(v.Claims)},
		{Key: "doInstanceName", Value: jsjson.StringValue(v.DOInstanceName)},
		{Key: "secret", Value: jsjson.StringValue(v.Secret.String())},
		{Key: "expiresInSec", Value: jsjson.NumberValue(left)},
	}}
	return obj
}

// MintJSON is the --json form of `token mint`: {token, claims, expiresAt}.
func MintJSON(is *token.Issued) jsjson.Value {
	return jsjson.Value{Kind: jsjson.Object, Items: []jsjson.Member{
		{Key: "token", Value: jsjson.StringValue(is.Token)},
		{Key: "claims", Value: claimsValue(is.Claims)},
		{Key: "expiresAt", Value: jsjson.StringValue(is.ExpiresAt.UTC().Format(time.RFC3339))},
	}}
}

// InspectJSON is the machine form of `token inspect`. expiresAt and
// expired are there only when exp is a date (token.CheckDates); when iat
// or exp is not, dateError names them with the Worker's refusal, so a
// string, null or missing exp never reads as a date in 1970.
func InspectJSON(d *token.Decoded, now time.Time) jsjson.Value {
	members := []jsjson.Member{
		{Key: "verified", Value: jsjson.Value{Kind: jsjson.Bool, Bool: false}},
		{Key: "header", Value: claimsValue(d.Header)},
		{Key: "claims", Value: claimsValue(d.Claims)},
	}
	invalid, refusal := dateProblems(d.Claims)
	if !slices.Contains(invalid, "exp") {
		exp := d.Claims.ExpiresAt()
		at := jsjson.Value{Kind: jsjson.Null}
		if t, ok := dateOf(exp); ok {
			at = jsjson.StringValue(t.Format(time.RFC3339))
		}
		members = append(members,
			jsjson.Member{Key: "expiresAt", Value: at},
			jsjson.Member{Key: "expired", Value: jsjson.Value{Kind: jsjson.Bool, Bool: exp < math.Floor(float64(now.UnixMilli())/1000)}},
		)
	}
	if refusal != nil {
		names := make([]jsjson.Member, len(invalid))
		for i, n := range invalid {
			names[i] = jsjson.Member{Value: jsjson.StringValue(n)}
		}
		members = append(members, jsjson.Member{Key: "dateError", Value: jsjson.Value{Kind: jsjson.Object, Items: []jsjson.Member{
			{Key: "claims", Value: jsjson.Value{Kind: jsjson.Array, Items: names}},
			{Key: "error", Value: jsjson.StringValue(refusal.Message)},
			{Key: "code", Value: jsjson.StringValue(refusal.Code)},
		}}})
	}
	return jsjson.Value{Kind: jsjson.Object, Items: members}
}

// dateProblems is token.CheckDates with its error as the *token.Error it
// always is.
func dateProblems(c token.Claims) ([]string, *token.Error) {
	invalid, err := token.CheckDates(c)
	var te *token.Error
	if !errors.As(err, &te) {
		return nil, nil
	}
	return invalid, te
}

func claimsValue(c token.Claims) jsjson.Value {
	raw, _ := c.MarshalJSON()
	v, err := jsjson.Parse(raw)
	if err != nil {
		return jsjson.Value{Kind: jsjson.Object}
	}
	return v
}

// Summary renders claims for people: one aligned line per claim Nimbus
// defines, then unknown claims, then expiry in human terms.
func Summary(st *style.Styles, c token.Claims, now time.Time) string {
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "  %s %s\n", st.Key(fmt.Sprintf("%-9s", k)), v) }
	line("tenant", clierr.Printable(c.Tenant()))
	if s, ok := c.Subject(); ok {
		line("subject", clierr.Printable(s))
	} else {
		line("subject", st.Muted("(none)"))
	}
	if sc, ok := c.Scopes(); ok {
		if len(sc) == 0 {
			line("scopes", st.Muted("(none granted)"))
		} else {
			shown := make([]string, len(sc))
			for i, s := range sc {
				shown[i] = clierr.Printable(s)
			}
			line("scopes", strings.Join(shown, ", "))
		}
	} else {
		line("scopes", st.Muted("(all: no scopes claim)"))
	}
	if sid, ok := c.SessionID(); ok {
		line("pinned", clierr.Printable(sid))
	} else {
		line("pinned", st.Muted("(any session)"))
	}
	if jti, ok := c.JTI(); ok {
		line("jti", clierr.Printable(jti))
	}
	c.Each(func(k, raw string) {
		switch k {
		case "scope", "tn", "sub", "scopes", "sid", "jti", "iat", "exp":
			return
		}
		line(clierr.Printable(k), clierr.Printable(raw))
	})
	invalid, refusal := dateProblems(c)
	for _, name := range invalid {
		what := name + " is missing"
		if raw, ok := c.Raw(name); ok {
			what = name + " is " + clierr.Printable(raw) + ", not a number"
		}
		label := "expires"
		if name == "iat" {
			label = "issued"
		}
		line(label, st.Error("not a valid date: "+what+"; the Worker refuses this token ("+refusal.Code+")"))
	}
	if !slices.Contains(invalid, "exp") {
		if t, ok := dateOf(c.ExpiresAt()); ok {
			line("expires", Expiry(st, t, now))
		} else if c.ExpiresAt() > 0 {
			line("expires", st.Warning("never: exp is beyond the year 9999"))
		} else {
			line("expires", st.Error("expired: exp is before the year 1"))
		}
	}
	return b.String()
}

// Expiry describes t relative to now: "2026-11-29 10:00:00 UTC (in 59m59s)"
// or "… (expired 3h ago)".
func Expiry(st *style.Styles, t, now time.Time) string {
	at := t.UTC().Format("2006-01-02 15:04:05 UTC")
	d := t.Sub(now).Round(time.Second)
	if d >= 0 {
		return at + " " + st.Success("(in "+duration.Human(d)+")")
	}
	return at + " " + st.Error("(expired "+duration.Human(-d)+" ago)")
}

// dateOf returns exp (seconds since 1970) as a UTC time when it falls in
// the years 1 to 9999 that RFC 3339 can write; an exp no clock reaches
// (1e300, or Infinity from 1e400, which verify as upstream's Worker does)
// would otherwise print as a made-up date.
func dateOf(exp float64) (time.Time, bool) {
	const first, last = -62135596800, 253402300799 // 0001-01-01, 9999-12-31T23:59:59Z
	if math.IsNaN(exp) || exp < first || exp >= last+1 {
		return time.Time{}, false
	}
	whole, frac := math.Modf(exp)
	return time.Unix(int64(whole), int64(frac*1e9)).UTC(), true
}
