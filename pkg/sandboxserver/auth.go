package sandboxserver

import (
	"errors"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/token"
)

// Principal is who a verified token says is calling.
type Principal interface {
	// DOPrefix is "<tenant>:<subject or _>": the Durable Object name of a
	// sandbox is DOPrefix() + ":" + id.
	DOPrefix() string
	// AllowDestroy applies destroy's extra rule (session:destroy or
	// session:admin); nil allows.
	AllowDestroy() *Error
}

// Authenticator checks a request's credentials for sandbox id with the
// required scopes (id "" skips the sid pin: routes outside a sandbox).
type Authenticator interface {
	// Authenticate reads the credentials from r's headers alone (the body
	// is not read yet, so nobody without a token makes the server buffer
	// one) and returns the caller, or the 401, 403 or 500 error to
	// answer. The token must carry every scope in scopes. Routes call it
	// through AuthenticateRequest, which applies the cookie rule first.
	Authenticate(r *http.Request, id string, scopes []string) (Principal, *Error)
}

// TokenAuth authenticates Nimbus JWTs with pkg/token, as the Worker's
// middleware does: bearer from the Authorization header, nimbus_token
// query or __Host-nimbus_token cookie; signature with Secret, then
// Previous (rotation window); then scopes and sid pin.
type TokenAuth struct {
	// Secret is JWT_SECRET; "" answers every request 500
	// E_AUTH_CONFIG_MISSING, as a Worker without a secret does.
	Secret string
	// Previous is JWT_SECRET_PREVIOUS.
	Previous string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Cache, when not nil, remembers tokens that verified: a client sends
	// the same token with every request, and the signature of the same
	// bytes under the same secrets does not change. The expiry is checked
	// again on every use (an expired token is verified afresh, to fail as
	// Verify fails; tokens have no nbf), and so are the scopes and the sid
	// pin. Entries belong to the secrets they were verified with: a
	// TokenAuth with other secrets does not see them.
	Cache *TokenCache
}

// Authenticate verifies the request's token.
func (a TokenAuth) Authenticate(r *http.Request, id string, scopes []string) (Principal, *Error) {
	if a.Secret == "" {
		return nil, NewError(http.StatusInternalServerError, token.CodeAuthConfigMissing, "Remote Nimbus sandbox API requires JWT_SECRET")
	}
	tok, err := token.ExtractBearer(r)
	if err != nil {
		return nil, TokenError(err)
	}
	e := a.Cache.get(tok, a.Secret, a.Previous, a.Now)
	if e == nil {
		v, err := (token.Verifier{Secret: a.Secret, Previous: a.Previous, Now: a.Now}).Verify(tok)
		if err != nil {
			return nil, TokenError(err)
		}
		e = newVerifiedToken(v)
		a.Cache.put(tok, a.Secret, a.Previous, e)
	}
	if !e.allows(id, scopes) {
		// The error, as CheckClaims words it.
		if aerr := CheckClaims(e.v.Claims, id, scopes); aerr != nil {
			return nil, aerr
		}
	}
	return e.principal, nil
}

// verifiedToken is a token that verified, with what every request checks
// against it taken out of its claims once.
type verifiedToken struct {
	v *token.Verified
	// exp is the exp claim (seconds).
	exp float64
	// scopes is the scopes claim; all means there is none (legacy full
	// trust).
	scopes []string
	all    bool
	// sid is the sid pin, when pinned.
	sid    string
	pinned bool
	// principal is the caller, made once (a TokenPrincipal).
	principal Principal
}

func newVerifiedToken(v *token.Verified) *verifiedToken {
	e := &verifiedToken{v: v, exp: v.Claims.ExpiresAt(), principal: TokenPrincipal{Claims: v.Claims, Prefix: v.DOInstanceName}}
	var has bool
	e.scopes, has = v.Claims.Scopes()
	e.all = !has
	e.sid, e.pinned = v.Claims.SessionID()
	return e
}

// allows reports whether the token grants every scope of required and, if
// id is not "", is not pinned to another sandbox: CheckClaims's decision,
// without its work.
func (e *verifiedToken) allows(id string, required []string) bool {
	if !e.all {
		for _, s := range required {
			if !slices.Contains(e.scopes, s) {
				return false
			}
		}
	}
	return id == "" || !e.pinned || e.sid == id
}

// expired applies Verify's expiry rule: exp is in whole seconds and a
// token is valid through the second exp.
func (e *verifiedToken) expired(now func() time.Time) bool {
	if now == nil {
		now = time.Now
	}
	return e.exp < math.Floor(float64(now().UnixMilli())/1000)
}

// TokenCache remembers verified tokens for TokenAuth, at most a fixed
// number (a full cache forgets one to take another), for one pair of
// secrets at a time: a use with other secrets empties it.
type TokenCache struct {
	mu               sync.Mutex
	m                map[string]*verifiedToken
	max              int
	secret, previous string
}

// NewTokenCache returns a cache of at most n tokens.
func NewTokenCache(n int) *TokenCache {
	return &TokenCache{m: make(map[string]*verifiedToken, n), max: n}
}

// get returns tok if it was verified with these secrets and has not
// expired since; nil otherwise.
func (c *TokenCache) get(tok, secret, previous string, now func() time.Time) *verifiedToken {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	var e *verifiedToken
	if c.secret == secret && c.previous == previous {
		e = c.m[tok]
	}
	c.mu.Unlock()
	if e == nil || e.expired(now) {
		return nil
	}
	return e
}

// put remembers tok, verified with these secrets; entries verified with
// others are forgotten.
func (c *TokenCache) put(tok, secret, previous string, e *verifiedToken) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.secret != secret || c.previous != previous {
		clear(c.m)
		c.secret, c.previous = secret, previous
	}
	if _, ok := c.m[tok]; !ok && len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[tok] = e
}

// AuthenticateRequest authenticates r for sandbox id with the required
// scopes as every route of the API does: a token from a cookie is first
// restricted to same-origin requests (see checkCookieRequest), then a
// checks it. Routes outside the rpc and destroy routes (the terminal
// WebSocket, for one) call it so that none of them forgets the cookie
// rule.
func AuthenticateRequest(a Authenticator, r *http.Request, id string, scopes []string) (Principal, *Error) {
	if aerr := checkCookieRequest(r); aerr != nil {
		return nil, aerr
	}
	return a.Authenticate(r, id, scopes)
}

// CheckClaims applies the required scopes and, when id is not "", the sid
// pin to verified claims.
func CheckClaims(c token.Claims, id string, scopes []string) *Error {
	if err := token.RequireScopes(c, scopes...); err != nil {
		return TokenError(err)
	}
	if id != "" {
		if err := token.RequireSessionPin(c, id); err != nil {
			return TokenError(err)
		}
	}
	return nil
}

// TokenPrincipal is the Principal of verified token claims.
type TokenPrincipal struct {
	// Claims are the verified token's claims (scopes, sid).
	Claims token.Claims
	// Prefix is the DO instance name pkg/token derived from the claims.
	Prefix string
}

// DOPrefix returns the DO instance name.
func (p TokenPrincipal) DOPrefix() string { return p.Prefix }

// AllowDestroy requires session:destroy or session:admin (a token without
// a scopes claim is full trust).
func (p TokenPrincipal) AllowDestroy() *Error {
	if err := token.RequireAnyScope(p.Claims, token.ScopeSessionDestroy, token.ScopeSessionAdmin); err != nil {
		return TokenError(err)
	}
	return nil
}

// TokenError converts a pkg/token failure to its wire failure, keeping
// its status and code; anything else is upstream's 500 E_AUTH_UNKNOWN.
func TokenError(err error) *Error {
	var te *token.Error
	if errors.As(err, &te) {
		return NewError(te.HTTPStatus, te.Code, te.Message)
	}
	return NewError(http.StatusInternalServerError, token.CodeAuthUnknown, "Internal auth error")
}
