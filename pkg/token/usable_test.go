package token_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"strings"
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
		err = token.CheckUsable(d, now, c.want)
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

// TestCheckUsableHeaderAndSignature: what CheckUsable can tell of the
// signature and the header without the secret. A signature that is not 32
// bytes never verifies (E_TOKEN_SIGNATURE), and a header that does not say
// alg HS256 is refused after it, as the server's Verify refuses it
// (E_TOKEN_MALFORMED, nimbus's own check). A token that is not three
// base64url parts with JSON objects is refused by Decode, with the code
// Verify gives it. Each token's MAC is right where its signature is 32
// bytes, so Verify decides by the same rule, and must agree.
func TestCheckUsableHeaderAndSignature(t *testing.T) {
	now := time.UnixMilli(1750000000999)
	use := token.Want{Scopes: []string{token.ScopeSandboxUse}, SessionID: "box"}
	enc := base64.RawURLEncoding.EncodeToString
	payload := enc([]byte(`{"scope":"nimbus","tn":"acme","scopes":["sandbox:use"],"sid":"box","iat":1750000000,"exp":1750003600}`))
	mac := func(in string) []byte {
		m := hmac.New(sha256.New, []byte(testSecret))
		m.Write([]byte(in))
		return m.Sum(nil)
	}
	// signed is header.payload with its right HS256 MAC.
	signed := func(header string) string {
		in := enc([]byte(header)) + "." + payload
		return in + "." + enc(mac(in))
	}
	// withSig is header.payload with the signature sig.
	withSig := func(header string, sig []byte) string {
		return enc([]byte(header)) + "." + payload + "." + enc(sig)
	}
	hs512 := func(header string) string {
		in := enc([]byte(header)) + "." + payload
		m := hmac.New(sha512.New, []byte(testSecret))
		m.Write([]byte(in))
		return in + "." + enc(m.Sum(nil))
	}
	const (
		malformed = "Malformed token: header alg must be HS256"
		badSig    = "Token signature invalid"
	)
	for _, c := range []struct {
		name, tok  string
		code, msg  string // "" for usable
		decodeFail bool   // Decode refuses it (E_TOKEN_MALFORMED)
	}{
		{"the header every issuer writes", signed(`{"alg":"HS256","typ":"JWT"}`), "", "", false},
		{"another header saying HS256", signed(`{"typ":"JWT","kid":"k1","alg":"HS256"}`), "", "", false},
		{"alg HS256 alone", signed(`{"alg":"HS256"}`), "", "", false},

		{"alg HS512", signed(`{"alg":"HS512","typ":"JWT"}`), token.CodeTokenMalformed, malformed, false},
		{"alg none", signed(`{"alg":"none","typ":"JWT"}`), token.CodeTokenMalformed, malformed, false},
		{"alg RS256", signed(`{"alg":"RS256","typ":"JWT"}`), token.CodeTokenMalformed, malformed, false},
		{"alg hs256 in lower case", signed(`{"alg":"hs256","typ":"JWT"}`), token.CodeTokenMalformed, malformed, false},
		{"alg with a space", signed(`{"alg":"HS256 "}`), token.CodeTokenMalformed, malformed, false},
		{"no alg", signed(`{"typ":"JWT"}`), token.CodeTokenMalformed, malformed, false},
		{"empty header object", signed(`{}`), token.CodeTokenMalformed, malformed, false},
		{"alg null", signed(`{"alg":null}`), token.CodeTokenMalformed, malformed, false},
		{"alg a list", signed(`{"alg":["HS256"]}`), token.CodeTokenMalformed, malformed, false},

		// The signature comes first, whatever the header says.
		{"alg none, empty signature", withSig(`{"alg":"none","typ":"JWT"}`, nil), token.CodeTokenSignature, badSig, false},
		{"alg HS512, genuine HS512 signature", hs512(`{"alg":"HS512","typ":"JWT"}`), token.CodeTokenSignature, badSig, false},
		{"alg RS256, 256-byte signature", withSig(`{"alg":"RS256","typ":"JWT"}`, make([]byte, 256)), token.CodeTokenSignature, badSig, false},
		{"alg HS256, signature cut to 16 bytes", withSig(`{"alg":"HS256","typ":"JWT"}`, make([]byte, 16)), token.CodeTokenSignature, badSig, false},

		// Not three base64url parts with JSON objects: Decode refuses.
		{"two parts", signed(`{"alg":"HS256"}`)[:strings.LastIndexByte(signed(`{"alg":"HS256"}`), '.')], token.CodeTokenMalformed, "", true},
		{"four parts", signed(`{"alg":"HS256"}`) + ".x", token.CodeTokenMalformed, "", true},
		{"header not JSON", signed(`alg=HS256`), token.CodeTokenMalformed, "", true},
		{"header a list", signed(`["HS256"]`), token.CodeTokenMalformed, "", true},
		{"header empty", signed(``), token.CodeTokenMalformed, "", true},
		{"signature not base64url", enc([]byte(`{"alg":"HS256"}`)) + "." + payload + ".sig!", token.CodeTokenMalformed, "", true},
	} {
		_, verr := token.Verifier{Secret: testSecret, Now: func() time.Time { return now }}.Verify(c.tok)
		var ve *token.Error
		if c.code == "" {
			if verr != nil {
				t.Errorf("%s: Verify says %v", c.name, verr)
			}
		} else if !errors.As(verr, &ve) || ve.Code != c.code {
			t.Errorf("%s: Verify says %v, want %s", c.name, verr, c.code)
		}
		d, err := token.Decode(c.tok)
		if c.decodeFail {
			if !errors.Is(err, token.ErrTokenMalformed) {
				t.Errorf("%s: Decode says %v, want %s", c.name, err, token.CodeTokenMalformed)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: Decode: %v", c.name, err)
			continue
		}
		err = token.CheckUsable(d, now, use)
		var te *token.Error
		switch {
		case c.code == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.code == "":
		case !errors.As(err, &te) || te.Code != c.code || te.Message != c.msg:
			t.Errorf("%s: %v, want %s %q", c.name, err, c.code, c.msg)
		case ve == nil || ve.Message != te.Message:
			t.Errorf("%s: Verify says %v, CheckUsable %v", c.name, verr, err)
		}
	}
}
