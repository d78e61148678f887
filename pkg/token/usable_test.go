package token_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/token"
)

// signedPayload is an HS256 token over exactly payload, for claims Mint
// never writes.
func signedPayload(secret, payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	in := token.Header + "." + enc([]byte(payload))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(in))
	return in + "." + enc(mac.Sum(nil))
}

// TestCheckUsable: one row per rule of CheckUsable. Each token is also
// verified with its secret, and wherever the server's Verify refuses it,
// CheckUsable must refuse it with the same code and message: the claims
// and expiry rules are the server's, not a client's approximation.
func TestCheckUsable(t *testing.T) {
	// 1750000000.999: the current whole second is 1750000000.
	now := time.UnixMilli(1750000000999)
	use := token.Want{Scopes: []string{token.ScopeSandboxUse}, SessionID: "box"}
	const (
		dates = `"iat":1750000000,"exp":1750003600`
		ok    = `"scope":"nimbus","tn":"acme"`
	)
	for _, c := range []struct {
		name    string
		payload string
		want    token.Want
		code    string // "" for usable
		claim   string // Error.Claim for E_TOKEN_CLAIMS
		msg     string
	}{
		{"least privilege", `{` + ok + `,"scopes":["sandbox:use"],"sid":"box",` + dates + `}`, use, "", "", ""},
		{"no scopes claim is full trust", `{` + ok + `,"sid":"box",` + dates + `}`, use, "", "", ""},
		{"no sid reaches any sandbox", `{` + ok + `,"scopes":["sandbox:use"],` + dates + `}`, use, "", "", ""},
		{"unknown target skips the pin", `{` + ok + `,"scopes":["sandbox:use"],"sid":"other",` + dates + `}`, token.Want{Scopes: use.Scopes}, "", "", ""},
		{"no scopes wanted", `{` + ok + `,"scopes":[],` + dates + `}`, token.Want{}, "", "", ""},
		{"exp is the current second: still valid", `{` + ok + `,"iat":1749999000,"exp":1750000000}`, use, "", "", ""},
		{"iat in the future is fine", `{` + ok + `,"iat":1760000000,"exp":1760003600}`, use, "", "", ""},
		{"exp Infinity", `{` + ok + `,"iat":1,"exp":1e400}`, use, "", "", ""},
		{"unknown claims ignored", `{` + ok + `,"nbf":1760000000,"x":{},` + dates + `}`, use, "", "", ""},

		{"scope discriminator", `{"scope":"vfs","tn":"acme",` + dates + `}`, use, token.CodeTokenClaims, "scope", `Invalid claims: scope must be "nimbus" (got: "vfs")`},
		{"tn missing", `{"scope":"nimbus",` + dates + `}`, use, token.CodeTokenClaims, "tn", "Invalid claims: tn must match /^[A-Za-z0-9._-]{1,128}$/ (got: undefined)"},
		{"tn not an id", `{"scope":"nimbus","tn":"a:b",` + dates + `}`, use, token.CodeTokenClaims, "tn", `Invalid claims: tn must match /^[A-Za-z0-9._-]{1,128}$/ (got: "a:b")`},
		{"sub null", `{` + ok + `,"sub":null,` + dates + `}`, use, token.CodeTokenClaims, "sub", "Invalid claims: sub must match /^[A-Za-z0-9._-]{1,128}$/ (got: null)"},
		{"sid not an id", `{` + ok + `,"sid":"a/b",` + dates + `}`, use, token.CodeTokenClaims, "sid", `Invalid claims: sid must match /^[A-Za-z0-9._-]{1,128}$/ (got: "a/b")`},
		{"jti not an id", `{` + ok + `,"jti":"",` + dates + `}`, use, token.CodeTokenClaims, "jti", `Invalid claims: jti must match /^[A-Za-z0-9._-]{1,128}$/ (got: "")`},
		{"exp missing", `{` + ok + `,"iat":1750000000}`, use, token.CodeTokenClaims, "iat", "Invalid claims: iat and exp must be numbers (NumericDate)"},
		{"iat missing", `{` + ok + `,"exp":1750003600}`, use, token.CodeTokenClaims, "iat", "Invalid claims: iat and exp must be numbers (NumericDate)"},
		{"exp a string", `{` + ok + `,"iat":1750000000,"exp":"1750003600"}`, use, token.CodeTokenClaims, "iat", "Invalid claims: iat and exp must be numbers (NumericDate)"},
		{"scopes a string", `{` + ok + `,"scopes":"sandbox:use",` + dates + `}`, use, token.CodeTokenClaims, "scopes", "Invalid claims: scopes must be an array of strings"},
		{"scopes with a number", `{` + ok + `,"scopes":["sandbox:use",1],` + dates + `}`, use, token.CodeTokenClaims, "scopes", "Invalid claims: scopes must be an array of strings"},

		{"expired a second ago", `{` + ok + `,"iat":1749999000,"exp":1749999999}`, use, token.CodeTokenExpired, "", "Token expired 1s ago"},
		{"expired half a second ago", `{` + ok + `,"iat":1749999000,"exp":1749999999.5}`, use, token.CodeTokenExpired, "", "Token expired 0.5s ago"},
		{"expired before year 1", `{` + ok + `,"iat":1,"exp":-1e300}`, use, token.CodeTokenExpired, "", "Token expired 1e+300s ago"},

		{"lacks sandbox:use", `{` + ok + `,"scopes":["session:attach"],"sid":"box",` + dates + `}`, use, token.CodeScopeMissing, "", "Missing required scope: sandbox:use"},
		{"empty scopes grant nothing", `{` + ok + `,"scopes":[],"sid":"box",` + dates + `}`, use, token.CodeScopeMissing, "", "Missing required scope: sandbox:use"},
		{"pinned elsewhere", `{` + ok + `,"scopes":["sandbox:use"],"sid":"other",` + dates + `}`, use, token.CodeSessionPin, "", `Token pinned to session "other" but request targets "box"`},

		// The server's order: claims, expiry, scopes, pin.
		{"claims before expiry", `{"scope":"nimbus","tn":"a:b","iat":1,"exp":2}`, use, token.CodeTokenClaims, "tn", `Invalid claims: tn must match /^[A-Za-z0-9._-]{1,128}$/ (got: "a:b")`},
		{"expiry before scopes", `{` + ok + `,"scopes":[],"iat":1,"exp":2}`, use, token.CodeTokenExpired, "", "Token expired 1749999998s ago"},
		{"scopes before pin", `{` + ok + `,"scopes":["session:attach"],"sid":"other",` + dates + `}`, use, token.CodeScopeMissing, "", "Missing required scope: sandbox:use"},
	} {
		tok := signedPayload(testSecret, c.payload)
		d, err := token.Decode(tok)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		err = token.CheckUsable(d.Claims, now, c.want)
		var te *token.Error
		switch {
		case c.code == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
			continue
		case c.code == "":
		case !errors.As(err, &te):
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
			continue
		case te.Code != c.code || te.Message != c.msg || te.Claim != c.claim:
			t.Errorf("%s: %s %q (claim %q), want %s %q (claim %q)", c.name, te.Code, te.Message, te.Claim, c.code, c.msg, c.claim)
		}
		// The server's verdict on the same token agrees wherever Verify
		// decides (everything but scopes and pin).
		_, verr := token.Verifier{Secret: testSecret, Now: func() time.Time { return now }}.Verify(tok)
		var ve *token.Error
		if verr != nil && (!errors.As(verr, &ve) || te == nil || ve.Code != te.Code || ve.Message != te.Message) {
			t.Errorf("%s: Verify says %v, CheckUsable %v", c.name, verr, err)
		}
		if verr == nil && te != nil && te.Code != token.CodeScopeMissing && te.Code != token.CodeSessionPin {
			t.Errorf("%s: Verify accepts, CheckUsable says %v", c.name, err)
		}
	}
}
