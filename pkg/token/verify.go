package token

import (
	"encoding/base64"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nimbus-sh/nimbus/internal/jsjson"
)

// SecretSlot says which configured secret verified a token.
type SecretSlot int

const (
	// Primary is JWT_SECRET, the secret new tokens are signed with.
	Primary SecretSlot = iota
	// Previous is JWT_SECRET_PREVIOUS, kept during a rotation so tokens
	// minted before it stay valid until they expire.
	Previous
)

// String returns the environment variable name of the slot.
func (s SecretSlot) String() string {
	if s == Previous {
		return "JWT_SECRET_PREVIOUS"
	}
	return "JWT_SECRET"
}

// Verifier checks tokens.
type Verifier struct {
	// Secret is JWT_SECRET; it is required.
	Secret string
	// Previous is JWT_SECRET_PREVIOUS; empty means no rotation in progress.
	Previous string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verified is the result of a successful verification.
type Verified struct {
	// Claims is the payload as sent, unknown claims included.
	Claims Claims
	// DOInstanceName is "<tn>:<sub>" or "<tn>:_".
	DOInstanceName string
	// Secret says which secret matched.
	Secret SecretSlot
}

// Verify checks tok in upstream's order (secret configured, shape,
// signature encoding, HMAC with the primary then the previous secret,
// header, payload encoding, claims, expiry); the first failure is returned
// as an *Error. The header check is nimbus's own hardening: a token whose
// MAC is right but whose header does not say alg HS256 is rejected. tok
// is taken verbatim, as by Decode (see Trim).
func (v Verifier) Verify(tok string) (*Verified, error) {
	if v.Secret == "" {
		return nil, errConfig()
	}
	headerPart, payloadPart, sigPart, err := split(tok)
	if err != nil {
		return nil, err
	}

	// Not Strict(): upstream ignores the unused low bits of the last
	// character, so a non-canonical signature still verifies.
	var sigBuf [48]byte
	sig, ok := appendDecodeString(sigBuf[:0], sigPart)
	if !ok {
		return nil, errMalformed("signature is not base64url")
	}

	signingInput := tok[:len(tok)-len(sigPart)-1]
	slot := Primary
	if !macMatches(signingInput, sig, v.Secret) {
		if v.Previous == "" || !macMatches(signingInput, sig, v.Previous) {
			return nil, errSignature()
		}
		slot = Previous
	}

	if !headerOK(headerPart) {
		return nil, errHeader()
	}

	var payloadBuf [512]byte
	payload, ok := appendDecodeString(payloadBuf[:0], payloadPart)
	if !ok {
		return nil, errMalformed("payload is not valid JSON: Invalid base64url input")
	}
	claims, err := scanClaims(string(jsjson.DecodeUTF8Bytes(payload)))
	if err != nil {
		return nil, errMalformed("payload is not valid JSON: " + err.Error())
	}
	if err := checkClaims(claims); err != nil {
		return nil, err
	}

	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	if err := checkExpiry(claims, now()); err != nil {
		return nil, err
	}
	return &Verified{Claims: claims, DOInstanceName: claims.DOInstanceName(), Secret: slot}, nil
}

// macMatches checks the HS256 MAC through golang-jwt with the algorithm
// pinned: the header is never consulted to pick an algorithm.
func macMatches(signingInput string, sig []byte, secret string) bool {
	err := jwt.SigningMethodHS256.Verify(signingInput, sig, []byte(secret))
	return err == nil
}

// isBase64URL is upstream's strict rule: only the URL alphabet, no padding,
// and a length that base64 can produce.
func isBase64URL(s string) bool {
	if len(s)%4 == 1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func decodeSegment(s string) ([]byte, bool) {
	if !isBase64URL(s) {
		return nil, false
	}
	return appendDecodeString(make([]byte, 0, base64.RawURLEncoding.DecodedLen(len(s))), s)
}

// appendDecodeString decodes unpadded base64url from a string without
// first copying it into a byte slice. The caller has checked the alphabet
// and length; like base64.RawURLEncoding (non-strict), it ignores the
// unused low bits of the last character.
func appendDecodeString(dst []byte, s string) ([]byte, bool) {
	n := len(s) / 4 * 3
	switch len(s) % 4 {
	case 1:
		return nil, false
	case 2:
		n++
	case 3:
		n += 2
	}
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	out := dst[start:]
	i, o := 0, 0
	for ; i+4 <= len(s); i, o = i+4, o+3 {
		a, b, c, d := b64dec[s[i]], b64dec[s[i+1]], b64dec[s[i+2]], b64dec[s[i+3]]
		if a|b|c|d == 0xff {
			return nil, false
		}
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		out[o], out[o+1], out[o+2] = byte(v>>16), byte(v>>8), byte(v)
	}
	switch len(s) - i {
	case 2:
		a, b := b64dec[s[i]], b64dec[s[i+1]]
		if a|b == 0xff {
			return nil, false
		}
		out[o] = a<<2 | b>>4
	case 3:
		a, b, c := b64dec[s[i]], b64dec[s[i+1]], b64dec[s[i+2]]
		if a|b|c == 0xff {
			return nil, false
		}
		v := uint32(a)<<12 | uint32(b)<<6 | uint32(c)
		out[o], out[o+1] = byte(v>>10), byte(v>>2)
	}
	return dst, true
}

// b64dec maps the base64url alphabet to its values and everything else to
// 0xff; since every value is below 64, OR-ing four lookups detects any
// invalid character.
var b64dec = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// headerOK is nimbus's header check (token.md, nimbus decisions b): the
// header every issuer writes, or any other that decodes to a JSON object
// whose alg is the string "HS256".
func headerOK(part string) bool { return part == Header || headerIsHS256(part) }

func headerIsHS256(part string) bool {
	raw, ok := decodeSegment(part)
	if !ok {
		return false
	}
	h, err := jsjson.Parse(jsjson.DecodeUTF8Bytes(raw))
	if err != nil || h.Kind != jsjson.Object {
		return false
	}
	alg, ok := h.Get("alg")
	return ok && alg.Kind == jsjson.String && alg.Str == "HS256"
}

// checkClaims applies steps 7 to 11 of upstream's verify in order.
func checkClaims(c Claims) error {
	// Arrays pass the object check upstream (typeof [] is "object") and
	// then fail the discriminator with "got: undefined".
	if c.kind != jsjson.Object && c.kind != jsjson.Array {
		return errClaims("", "payload is not a JSON object")
	}
	raw, ok := c.known(cScope)
	if s, isStr := jsjson.StringOf(raw); !ok || !isStr || s != "nimbus" {
		return errClaims("scope", `scope must be "nimbus" (got: `+jsonOf(raw, ok)+")")
	}
	for _, id := range [...]struct {
		name string
		i    int
	}{{"tn", cTn}, {"sub", cSub}, {"sid", cSid}, {"jti", cJti}} {
		raw, present := c.known(id.i)
		if !present && id.i != cTn {
			continue
		}
		if s, isStr := jsjson.StringOf(raw); !present || !isStr || !IsIDComponent(s) {
			return idError(id.name, jsonOf(raw, present))
		}
	}
	if _, err := CheckDates(c); err != nil {
		return err
	}
	if scopes, ok := c.known(cScopes); ok && !jsjson.IsArrayOfStrings(scopes) {
		return errClaims("scopes", "scopes must be an array of strings")
	}
	return nil
}

// CheckDates applies the server's rule for iat and exp on its own (step
// 10 of upstream's verify, which Verify and CheckUsable apply after the
// scope and id claims): both must be present and JSON numbers. Any number
// is a NumericDate, as upstream's typeof check has it: fractions,
// negatives, exponents, and 1e400, which JSON.parse reads as Infinity. A
// string (even "1750003600"), null, any other value or a missing claim is
// not, and ExpiresAt and IssuedAt read it as 0, which is no date at all.
//
// It returns the claims that break the rule, "iat" before "exp", and the
// error Verify and CheckUsable refuse such a token with (E_TOKEN_CLAIMS,
// Claim "iat", upstream's message), or nil and nil. It looks at no other
// claim, so a view of a token that is only decoded (token inspect) can
// tell a claim that is not a date from a date.
func CheckDates(c Claims) (invalid []string, err error) {
	if !c.numericDate(cIat) {
		invalid = append(invalid, "iat")
	}
	if !c.numericDate(cExp) {
		invalid = append(invalid, "exp")
	}
	if invalid != nil {
		return invalid, errClaims("iat", "iat and exp must be numbers (NumericDate)")
	}
	return nil, nil
}

// numericDate is the rule of CheckDates for one claim.
func (c Claims) numericDate(i int) bool {
	raw, ok := c.known(i)
	return ok && jsjson.IsNumber(raw)
}

// jsonOf renders a claim as upstream's messages do: JSON.stringify of the
// value, or the bare word undefined when it is missing.
func jsonOf(raw string, present bool) string {
	if !present {
		return "undefined"
	}
	return jsjson.Normalize(raw)
}
