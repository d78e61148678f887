package token

import (
	"crypto/sha256"
	"math"
	"time"
)

// Want is what a request will ask of a token: the scopes its route
// requires and the session or sandbox it targets.
type Want struct {
	// Scopes are the scopes the route requires, checked in order as
	// RequireScopes checks them (the remote sandbox API requires
	// ScopeSandboxUse).
	Scopes []string
	// SessionID is the session or sandbox the token will be used for; ""
	// when the caller does not know it yet, which skips the sid pin check.
	SessionID string
}

// CheckUsable reports whether a server holding the right secret would
// accept the token d (from Decode) for want at now, and if not, why: the
// error the server would answer with, always an *Error with its stable
// code, message and fields (Claim, ExpiredAgoSec, RequiredScope,
// PinnedTo, Attempted) for callers to word their own advice by.
//
// It applies the server's rules in the server's order, as far as they can
// be applied without the secret: the signature's length (an HS256
// signature is 32 bytes, so no secret verifies any other;
// E_TOKEN_SIGNATURE), the header (alg must be HS256, nimbus's own check
// that an upstream Worker does not make, token.md nimbus decisions b;
// E_TOKEN_MALFORMED "header alg must be HS256"), the claims (scope
// discriminator, tn/sub/sid/jti shapes, numeric iat and exp, scopes shape;
// E_TOKEN_CLAIMS), expiry (exp before the current whole second, with no
// leeway; E_TOKEN_EXPIRED), the required scopes (E_SCOPE_MISSING) and then
// the sid pin (E_SESSION_PIN_MISMATCH), the order of the routes. The
// shape (three base64url parts, JSON header and payload) is Decode's. It
// does not check the MAC, so it works on a token a client holds without
// the secret: it exists so that a client (nimbus doctor, nimbus mcp)
// refuses a token that cannot work with the server's rules, not a copy of
// them that drifts.
func CheckUsable(d *Decoded, now time.Time, want Want) error {
	if d.SignatureLen != sha256.Size {
		return errSignature()
	}
	if !headerOK(d.header) {
		return errHeader()
	}
	c := d.Claims
	if err := checkClaims(c); err != nil {
		return err
	}
	if err := checkExpiry(c, now); err != nil {
		return err
	}
	if err := RequireScopes(c, want.Scopes...); err != nil {
		return err
	}
	if want.SessionID != "" {
		return RequireSessionPin(c, want.SessionID)
	}
	return nil
}

// checkExpiry is upstream's expiry rule (verify step 12): the token has
// expired when exp is before the current whole second, so exp equal to
// it is still valid, and there is no leeway either way.
func checkExpiry(c Claims, now time.Time) error {
	nowSec := math.Floor(float64(now.UnixMilli()) / 1000)
	if exp := c.ExpiresAt(); exp < nowSec {
		return errExpired(nowSec - exp)
	}
	return nil
}
