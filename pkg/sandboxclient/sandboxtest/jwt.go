package sandboxtest

import (
	"time"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// JWT is a Verifier for real Nimbus tokens: signature (JWT_SECRET, then
// JWT_SECRET_PREVIOUS), claims and expiry are checked by pkg/token, and the
// scope and pin checks of the fake use the token's claims through pkg/token
// as the Worker's middleware does.
type JWT struct {
	Secret   string
	Previous string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verify checks tok with pkg/token.
func (j JWT) Verify(tok string) (*Identity, *AuthError) {
	v, err := token.Verifier{Secret: j.Secret, Previous: j.Previous, Now: j.Now}.Verify(tok)
	if err != nil {
		return nil, sandboxserver.TokenError(err)
	}
	c := v.Claims
	id := &Identity{Tenant: c.Tenant(), claims: &c, doPrefix: v.DOInstanceName}
	id.Subject, _ = c.Subject()
	if s, ok := c.Scopes(); ok {
		id.Scopes = append([]string{}, s...)
	}
	id.SID, _ = c.SessionID()
	return id, nil
}

// bootstrapToken mints the single-use, sid-pinned session:bootstrap token
// /new puts in its Location (90 s), when the fake verifies real JWTs.
func (j JWT) bootstrapToken(id *Identity, sid, jti string) (string, error) {
	ttl := 90 * time.Second
	in := token.Input{Tenant: &id.Tenant, Scopes: []string{token.ScopeSessionBootstrap}, SessionID: &sid, JTI: &jti, TTL: &ttl}
	if id.Subject != "" {
		in.Subject = &id.Subject
	}
	return token.Issuer{Secret: j.Secret, Now: j.Now}.Mint(in)
}
