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
