package token_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/token"
)

// TestCheckDates: CheckDates is the server's date rule (iat and exp
// present and JSON numbers, any number), and names the claims that break
// it. For every row the server's Verify agrees: it refuses exactly the
// tokens CheckDates refuses, with the same error, so a view that reports
// a date claim (token inspect) says what the Worker would.
func TestCheckDates(t *testing.T) {
	const secret = "nimbus-test-secret"
	v := token.Verifier{Secret: secret, Now: func() time.Time { return time.UnixMilli(1750000000123) }}
	for _, c := range []struct {
		dates   string
		invalid []string
	}{
		{`"iat":1750000000,"exp":1750003600`, nil},
		{`"iat":1750000000,"exp":1e400`, nil},         // Infinity: never expires
		{`"iat":1750000000,"exp":1.75e9`, nil},        // exponent notation
		{`"iat":-5,"exp":1750003600.5`, nil},          // negative, fractional
		{`"iat":-0,"exp":1750003600,"exp2":"x"`, nil}, // only iat and exp count

		{`"iat":1750000000,"exp":"1750003600"`, []string{"exp"}},
		{`"iat":1750000000,"exp":null`, []string{"exp"}},
		{`"iat":1750000000,"exp":true`, []string{"exp"}},
		{`"iat":1750000000,"exp":[1750003600]`, []string{"exp"}},
		{`"iat":1750000000,"exp":{}`, []string{"exp"}},
		{`"iat":1750000000`, []string{"exp"}},
		{`"iat":"1750000000","exp":1750003600`, []string{"iat"}},
		{`"exp":1750003600`, []string{"iat"}},
		{`"iat":null,"exp":"soon"`, []string{"iat", "exp"}},
		{``, []string{"iat", "exp"}},
		// The last of duplicate keys wins, as everywhere.
		{`"iat":1750000000,"exp":1750003600,"exp":"1750003600"`, []string{"exp"}},
		{`"iat":1750000000,"exp":"1750003600","exp":1750003600`, nil},
	} {
		payload := `{"scope":"nimbus","tn":"acme"`
		if c.dates != "" {
			payload += "," + c.dates
		}
		payload += "}"
		tok := signedPayload(secret, payload)
		d, err := token.Decode(tok)
		if err != nil {
			t.Fatalf("%s: %v", payload, err)
		}
		invalid, err := token.CheckDates(d.Claims)
		if !slices.Equal(invalid, c.invalid) {
			t.Errorf("%s: invalid %q, want %q", payload, invalid, c.invalid)
		}
		_, verr := v.Verify(tok)
		if c.invalid == nil {
			if err != nil {
				t.Errorf("%s: CheckDates refused a date: %v", payload, err)
			}
			if errors.Is(verr, token.ErrTokenClaims) {
				t.Errorf("%s: Verify refused the claims CheckDates accepts: %v", payload, verr)
			}
			continue
		}
		var te, vte *token.Error
		if !errors.As(err, &te) || te.Code != token.CodeTokenClaims || te.Claim != "iat" || te.Message != "Invalid claims: iat and exp must be numbers (NumericDate)" {
			t.Errorf("%s: CheckDates error %#v", payload, err)
			continue
		}
		if !errors.As(verr, &vte) || *vte != *te {
			t.Errorf("%s: Verify says %#v, CheckDates %#v", payload, verr, err)
		}
	}
}
