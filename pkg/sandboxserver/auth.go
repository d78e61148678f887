package sandboxserver

import (
	"errors"
	"math"
	"net/http"
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
	// again every time (an expired token is verified afresh, to fail as
	// Verify fails). Secret and Previous must not change while it is used.
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
	v := a.Cache.get(tok, a.Now)
	if v == nil {
		if v, err = (token.Verifier{Secret: a.Secret, Previous: a.Previous, Now: a.Now}).Verify(tok); err != nil {
			return nil, TokenError(err)
		}
		a.Cache.put(tok, v)
	}
	if aerr := CheckClaims(v.Claims, id, scopes); aerr != nil {
		return nil, aerr
	}
	return TokenPrincipal{Claims: v.Claims, Prefix: v.DOInstanceName}, nil
}

// TokenCache remembers verified tokens for TokenAuth, at most a fixed
// number (a full cache forgets one to take another).
type TokenCache struct {
	mu  sync.Mutex
	m   map[string]*token.Verified
	max int
}

// NewTokenCache returns a cache of at most n tokens.
func NewTokenCache(n int) *TokenCache {
	return &TokenCache{m: make(map[string]*token.Verified, n), max: n}
}

// get returns the verification of tok if it is cached and tok has not
// expired since, as Verify decides expiry (whole seconds); nil otherwise.
func (c *TokenCache) get(tok string, now func() time.Time) *token.Verified {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	v := c.m[tok]
	c.mu.Unlock()
	if v == nil {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	if v.Claims.ExpiresAt() < math.Floor(float64(now().UnixMilli())/1000) {
		return nil
	}
	return v
}

func (c *TokenCache) put(tok string, v *token.Verified) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[tok] = v
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
