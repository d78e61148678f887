package sandboxserver_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// TestTokenCache: a cached token is still refused once it expires, with
// the error an uncached check gives; a forged token is refused every time;
// the cache keeps at most its size.
func TestTokenCache(t *testing.T) {
	clock := now
	ttl := 60 * time.Second
	mintTTL := func() string {
		tok, err := token.Issuer{Secret: secret, Now: func() time.Time { return clock }}.Mint(token.Input{Tenant: ptr("acme"), TTL: &ttl, Scopes: []string{token.ScopeSandboxUse}})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	cache := sandboxserver.NewTokenCache(2)
	cached := sandboxserver.TokenAuth{Secret: secret, Now: func() time.Time { return clock }, Cache: cache}
	plain := sandboxserver.TokenAuth{Secret: secret, Now: func() time.Time { return clock }}
	auth := func(a sandboxserver.TokenAuth, tok string) *sandboxserver.Error {
		r := httptest.NewRequest("POST", "/api/nimbus/v1/sandboxes/box/rpc", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		_, aerr := a.Authenticate(r, "box", []string{token.ScopeSandboxUse})
		return aerr
	}
	tok := mintTTL()
	for range 3 {
		if aerr := auth(cached, tok); aerr != nil {
			t.Fatal(aerr)
		}
	}
	clock = clock.Add(ttl + 2*time.Second)
	want, got := auth(plain, tok), auth(cached, tok)
	if want == nil || got == nil || *got != *want {
		t.Fatalf("expired: cached %+v, uncached %+v", got, want)
	}
	forged := tok[:len(tok)-2] + "xx"
	for range 2 {
		if aerr := auth(cached, forged); aerr == nil || aerr.Status != 401 {
			t.Fatalf("forged: %+v", aerr)
		}
	}
	// More tokens than the cache holds: all still verify.
	clock = now
	for i := range 5 {
		clock = clock.Add(time.Second * time.Duration(i))
		if aerr := auth(cached, mintTTL()); aerr != nil {
			t.Fatal(aerr)
		}
	}
	// Scopes and the sid pin are checked on every request, cached or not.
	pinned, err := token.Issuer{Secret: secret, Now: func() time.Time { return clock }}.Mint(token.Input{Tenant: ptr("acme"), TTL: &ttl, SessionID: ptr("other"), Scopes: []string{token.ScopeSandboxUse}})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if aerr := auth(cached, pinned); aerr == nil || aerr.Status != 403 {
			t.Fatalf("pinned to another sandbox: %+v", aerr)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestTokenCacheSecrets: entries belong to the secrets that verified them.
// A server whose secret changed (or whose rotation window closed) refuses
// a token the cache holds, with the answer an uncached check gives, and
// the cache is not fooled by a token that verified under the old pair.
func TestTokenCacheSecrets(t *testing.T) {
	const other = "another-secret-0123456789abcdef01234567"
	clock := func() time.Time { return now }
	mint := func(sec string) string {
		ttl := time.Hour
		tok, err := token.Issuer{Secret: sec, Now: clock}.Mint(token.Input{Tenant: ptr("acme"), TTL: &ttl})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	auth := func(a sandboxserver.TokenAuth, tok string) *sandboxserver.Error {
		r := httptest.NewRequest("POST", "/api/nimbus/v1/sandboxes/box/rpc", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		_, aerr := a.Authenticate(r, "box", []string{token.ScopeSandboxUse})
		return aerr
	}
	cache := sandboxserver.NewTokenCache(8)
	old, fresh := mint(secret), mint(other)
	rotating := sandboxserver.TokenAuth{Secret: other, Previous: secret, Now: clock, Cache: cache}
	for _, tok := range []string{old, fresh, old} {
		if aerr := auth(rotating, tok); aerr != nil {
			t.Fatalf("during rotation: %+v", aerr)
		}
	}
	// The rotation window closes: the old secret's token is refused.
	rotated := sandboxserver.TokenAuth{Secret: other, Now: clock, Cache: cache}
	want := auth(sandboxserver.TokenAuth{Secret: other, Now: clock}, old)
	if got := auth(rotated, old); want == nil || got == nil || *got != *want || got.Status != 401 {
		t.Fatalf("old secret after rotation: cached %+v, uncached %+v", got, want)
	}
	if aerr := auth(rotated, fresh); aerr != nil {
		t.Fatal(aerr)
	}
	// Back to the first secret alone: the other one's token is refused.
	first := sandboxserver.TokenAuth{Secret: secret, Now: clock, Cache: cache}
	if aerr := auth(first, fresh); aerr == nil || aerr.Status != 401 {
		t.Fatalf("token of another secret: %+v", aerr)
	}
	if aerr := auth(first, old); aerr != nil {
		t.Fatal(aerr)
	}
}

// TestTokenCacheScopes: a token cached by a route it may use is still held
// to the scopes of every other route, with the uncached answer.
func TestTokenCacheScopes(t *testing.T) {
	clock := func() time.Time { return now }
	ttl := time.Hour
	tok, err := token.Issuer{Secret: secret, Now: clock}.Mint(token.Input{Tenant: ptr("acme"), TTL: &ttl, Scopes: []string{token.ScopeSessionAttach}})
	if err != nil {
		t.Fatal(err)
	}
	auth := func(a sandboxserver.TokenAuth, scope string) (sandboxserver.Principal, *sandboxserver.Error) {
		r := httptest.NewRequest("POST", "/api/nimbus/v1/sandboxes/box/rpc", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		return a.Authenticate(r, "box", []string{scope})
	}
	cached := sandboxserver.TokenAuth{Secret: secret, Now: clock, Cache: sandboxserver.NewTokenCache(4)}
	p, aerr := auth(cached, token.ScopeSessionAttach)
	if aerr != nil || p.DOPrefix() != "acme:_" {
		t.Fatalf("%v %+v", p, aerr)
	}
	_, want := auth(sandboxserver.TokenAuth{Secret: secret, Now: clock}, token.ScopeSandboxUse)
	for range 2 {
		if _, got := auth(cached, token.ScopeSandboxUse); want == nil || got == nil || *got != *want || got.Status != 403 {
			t.Fatalf("missing scope: cached %+v, uncached %+v", got, want)
		}
	}
	if aerr := p.AllowDestroy(); aerr == nil || aerr.Status != 403 {
		t.Fatalf("destroy without its scope: %+v", aerr)
	}
}
