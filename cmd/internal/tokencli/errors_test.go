package tokencli

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

func claims(t *testing.T, payload string) token.Claims {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	d, err := token.Decode(enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(payload)) + "." + enc([]byte("sig")))
	if err != nil {
		t.Fatal(err)
	}
	return d.Claims
}

// TestMintCommand: the mint command of a token's hints runs as written:
// --tenant always (T only when the token has none mint would take), the
// claims mint takes, scopes quoted and never an empty list (mint refuses
// it), the secret file quoted.
func TestMintCommand(t *testing.T) {
	for _, c := range []struct {
		payload, secretFile, want string
	}{
		{`{"scope":"nimbus","tn":"acme","sub":"ci","scopes":["sandbox:use","session:destroy"],"sid":"job-1","iat":1,"exp":2}`, "",
			"nimbus token mint --tenant acme --sub ci --scopes sandbox:use,session:destroy --sid job-1"},
		{`{"scope":"nimbus","tn":"acme","iat":1,"exp":2}`, "my secret.txt",
			"nimbus token mint --tenant acme --secret-file 'my secret.txt'"},
		{`{"scope":"nimbus","tn":"acme","scopes":[],"iat":1,"exp":2}`, "",
			"nimbus token mint --tenant acme --scopes sandbox:use"},
		{`{"scope":"nimbus","tn":"ac me","sub":"$(x)","scopes":["a,b","x y"],"sid":"j;1","iat":1,"exp":2}`, "",
			"nimbus token mint --tenant T --scopes 'x y'"},
		{`{}`, "", "nimbus token mint --tenant T"},
	} {
		if got := MintCommand(claims(t, c.payload), c.secretFile); got != c.want {
			t.Errorf("%s: %q, want %q", c.payload, got, c.want)
		}
	}
}

// TestMintHints: the hints that say to mint a token name a whole command,
// not 'nimbus token mint', which fails without --tenant.
func TestMintHints(t *testing.T) {
	for _, c := range []struct {
		err  *token.Error
		want string
	}{
		{&token.Error{Code: token.CodeTokenExpired}, "mint a new token: nimbus token mint --tenant T"},
		{&token.Error{Code: token.CodeTokenClaims, Claim: "scope"}, `the token was not minted for a Nimbus session (its scope claim must be "nimbus"); mint one: nimbus token mint --tenant T`},
		{&token.Error{Code: token.CodeTokenClaims, Claim: "iat"}, "iat and exp must be JSON numbers of seconds since 1970; mint a token: nimbus token mint --tenant T"},
		{&token.Error{Code: token.CodeTokenClaims}, "the token's payload must be a JSON object of claims; mint a token: nimbus token mint --tenant T"},
	} {
		var ce *clierr.Error
		if !errors.As(Error(c.err), &ce) || ce.Hint != c.want {
			t.Errorf("%s %q: hint %q, want %q", c.err.Code, c.err.Claim, ce.Hint, c.want)
		}
	}
}
