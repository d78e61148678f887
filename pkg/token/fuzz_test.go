package token_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/token"
)

// FuzzVerify: any input yields a *token.Error or a result whose claims
// serialise to JSON, never a panic. The seed corpus in
// testdata/fuzz/FuzzVerify holds every token of the upstream vectors.
func FuzzVerify(f *testing.F) {
	f.Add("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzY29wZSI6Im5pbWJ1cyIsInRuIjoiYWNtZSIsImlhdCI6MTc1MDAwMDAwMCwiZXhwIjoxNzUwMDAzNjAwfQ.YbKtB7TgrVmoe59z4EvtxB0B7RC2pabo8q93m_RQp3E")
	v := token.Verifier{Secret: "nimbus-test-secret", Previous: "nimbus-old-secret", Now: func() time.Time { return time.UnixMilli(1750000000123) }}
	f.Fuzz(func(t *testing.T, tok string) {
		res, err := v.Verify(tok)
		if err != nil {
			var te *token.Error
			if !errors.As(err, &te) || te.Code == "" || te.HTTPStatus == 0 || te.Message == "" {
				t.Fatalf("Verify(%q) returned untyped error %#v", tok, err)
			}
			return
		}
		raw, err := res.Claims.MarshalJSON()
		if err != nil || !json.Valid(raw) {
			t.Fatalf("claims of %q do not serialise: %s %v", tok, raw, err)
		}
		if res.DOInstanceName == "" {
			t.Fatalf("empty DO instance name for %q", tok)
		}
	})
}

// FuzzDecode: inspect's decoder never panics and only fails with a typed
// malformed-token error; CheckDates, which inspect asks before showing a
// date, names a claim exactly when it refuses the dates, and then with
// E_TOKEN_CLAIMS. The seeds named date-* hold iat and exp that are not
// numbers (a string, null, true, missing) and numbers that are odd but
// valid (1e400, -5, 1.5).
func FuzzDecode(f *testing.F) {
	f.Add("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzY29wZSI6Im5pbWJ1cyJ9.")
	f.Fuzz(func(t *testing.T, tok string) {
		d, err := token.Decode(tok)
		if err != nil {
			if !errors.Is(err, token.ErrTokenMalformed) {
				t.Fatalf("Decode(%q) = %v, want E_TOKEN_MALFORMED", tok, err)
			}
			return
		}
		if raw, _ := d.Claims.MarshalJSON(); !json.Valid(raw) {
			t.Fatalf("decoded claims are not JSON: %s", raw)
		}
		invalid, err := token.CheckDates(d.Claims)
		if (len(invalid) == 0) != (err == nil) || err != nil && !errors.Is(err, token.ErrTokenClaims) {
			t.Fatalf("CheckDates(%q) = %q, %v", tok, invalid, err)
		}
	})
}
