package token

import (
	"encoding/base64"
	"math"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nimbus-sh/nimbus/internal/jsjson"
)

// Lifetimes, as upstream defines them.
const (
	// DefaultTTL is the lifetime of a token minted without an explicit TTL.
	DefaultTTL = time.Hour
	// MaxTTL is the longest lifetime Mint accepts (30 days).
	MaxTTL = 30 * 24 * time.Hour
	// AttachBootstrapTTL is the lifetime of the single-use tokens a Nimbus
	// Worker mints for the attach exchange.
	AttachBootstrapTTL = 90 * time.Second
)

// MinSecretLength is the shortest secret, in bytes, that gives HS256 its
// full strength: RFC 7518 §3.2 asks for a key at least as long as the
// hash (256 bits). Mint signs with shorter secrets, as upstream does;
// commands warn about them.
const MinSecretLength = 32

// Header is the encoded JOSE header of every token nimbus and upstream mint:
// base64url of {"alg":"HS256","typ":"JWT"}.
const Header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// Input is what a token says. A nil pointer is an absent claim, which is
// different from a present empty one: upstream rejects an empty sub but
// accepts a missing one, and a nil Scopes (legacy full trust) is different
// from an empty list (no scopes at all).
type Input struct {
	// Tenant (tn) is required.
	Tenant *string
	// Subject (sub) is the user within the tenant.
	Subject *string
	// Scopes lists capabilities such as "sandbox:use".
	Scopes []string
	// SessionID (sid) pins the token to one session or sandbox.
	SessionID *string
	// JTI marks a single-use token.
	JTI *string

	// TTL is the lifetime; nil means DefaultTTL. It must be positive and at
	// most MaxTTL. Whole seconds count: exp = iat + floor(TTL).
	TTL *time.Duration
	// TTLMillis, when set, replaces TTL with a lifetime in milliseconds as
	// upstream's opts.ttlMs carries it: any float64, checked and floored
	// exactly as upstream does (1e-7 ms is allowed and gives exp = iat;
	// +Inf and -0 are TTL errors). ParseTTL returns such a value. NaN,
	// which upstream mints into a token with "exp":null, is a TTL error.
	TTLMillis *float64
	// IssuedAt overrides iat; the zero value means the issuer's clock.
	IssuedAt time.Time
}

// Issuer mints tokens. Tokens are always signed with Secret; a rotated-out
// previous secret is only ever used to verify.
type Issuer struct {
	// Secret is the HMAC key: the UTF-8 bytes of JWT_SECRET, not decoded.
	Secret string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Issued is a minted token with the claims it carries.
type Issued struct {
	// Token is the signed JWT, ready for an Authorization: Bearer header.
	// It is a credential: never log it.
	Token string
	// Claims are the claims as decoded back from Token, so they show
	// exactly what was signed.
	Claims Claims
	// IssuedAt is the iat claim, whole seconds (the clock is truncated,
	// as upstream does).
	IssuedAt time.Time
	// ExpiresAt is the exp claim, whole seconds: IssuedAt plus the
	// lifetime.
	ExpiresAt time.Time
}

// Mint returns a signed token for in, checking it as upstream does: secret,
// then id claims (tn, sub, sid, jti), then TTL.
func (is Issuer) Mint(in Input) (string, error) {
	tok, _, err := is.mint(in)
	return tok, err
}

// Issue is Mint that also returns the claims and times, for callers that
// report them.
func (is Issuer) Issue(in Input) (*Issued, error) {
	tok, times, err := is.mint(in)
	if err != nil {
		return nil, err
	}
	d, err := Decode(tok)
	if err != nil {
		return nil, err // unreachable: the token was just minted
	}
	return &Issued{Token: tok, Claims: d.Claims, IssuedAt: time.Unix(times[0], 0), ExpiresAt: time.Unix(times[1], 0)}, nil
}

func (is Issuer) mint(in Input) (string, [2]int64, error) {
	var times [2]int64
	if is.Secret == "" {
		return "", times, errConfig()
	}
	if err := CheckIDComponent("tn", in.Tenant); err != nil {
		return "", times, err
	}
	for _, c := range [...]struct {
		name string
		v    *string
	}{{"sub", in.Subject}, {"sid", in.SessionID}, {"jti", in.JTI}} {
		if c.v != nil {
			if err := CheckIDComponent(c.name, c.v); err != nil {
				return "", times, err
			}
		}
	}
	lifetime, err := in.lifetime()
	if err != nil {
		return "", times, err
	}
	var iat int64
	if !in.IssuedAt.IsZero() {
		iat = in.IssuedAt.Unix()
	} else {
		now := time.Now
		if is.Now != nil {
			now = is.Now
		}
		iat = int64(math.Floor(float64(now().UnixMilli()) / 1000))
	}
	exp := iat + lifetime
	times = [2]int64{iat, exp}

	// Both buffers live on the stack for typical tokens; the only copies
	// on the heap are the signing string handed to golang-jwt and the
	// final token.
	var payloadBuf [320]byte
	payload := appendPayload(payloadBuf[:0], in, iat, exp)
	var inputBuf [512]byte
	signingInput := append(inputBuf[:0], Header...)
	signingInput = append(signingInput, '.')
	signingInput = base64.RawURLEncoding.AppendEncode(signingInput, payload)
	signingString := string(signingInput)
	sig, err := jwt.SigningMethodHS256.Sign(signingString, []byte(is.Secret))
	if err != nil {
		return "", times, err
	}
	var sigBuf [64]byte
	return signingString + "." + string(base64.RawURLEncoding.AppendEncode(sigBuf[:0], sig)), times, nil
}

// lifetime checks the TTL as upstream does (ttlMs <= 0 or ttlMs > max is
// an error) and returns floor(ttlMs / 1000), the seconds added to iat.
func (in Input) lifetime() (int64, error) {
	if in.TTLMillis == nil {
		ttl := DefaultTTL
		if in.TTL != nil {
			ttl = *in.TTL
		}
		if ttl <= 0 || ttl > MaxTTL {
			return 0, errTTL(float64(ttl) / float64(time.Millisecond))
		}
		return int64(ttl / time.Second), nil
	}
	ms := *in.TTLMillis
	if !(ms > 0) || ms > float64(MaxTTL.Milliseconds()) {
		return 0, errTTL(ms)
	}
	return int64(math.Floor(ms / 1000)), nil
}

// appendPayload serialises the claims in upstream's key order with
// JSON.stringify's escaping; encoding/json would reorder nothing here but
// escapes <, >, & and U+2028/U+2029, which changes the signed bytes.
func appendPayload(b []byte, in Input, iat, exp int64) []byte {
	b = append(b, `{"scope":"nimbus","tn":`...)
	b = jsjson.AppendQuote(b, *in.Tenant)
	if in.Subject != nil {
		b = append(b, `,"sub":`...)
		b = jsjson.AppendQuote(b, *in.Subject)
	}
	if in.Scopes != nil {
		b = append(b, `,"scopes":[`...)
		for i, s := range in.Scopes {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsjson.AppendQuote(b, s)
		}
		b = append(b, ']')
	}
	if in.SessionID != nil {
		b = append(b, `,"sid":`...)
		b = jsjson.AppendQuote(b, *in.SessionID)
	}
	if in.JTI != nil {
		b = append(b, `,"jti":`...)
		b = jsjson.AppendQuote(b, *in.JTI)
	}
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, iat, 10)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, exp, 10)
	return append(b, '}')
}
