package token_test

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/token"
)

// TestExpiresTimeSaturates: an exp no clock reaches (1e300, or 1e400 that
// JavaScript and nimbus read as Infinity) is far in the future, never an
// int64 overflow that lands in the past and makes callers (doctor, mcp,
// preview cookies) treat a valid token as expired.
func TestExpiresTimeSaturates(t *testing.T) {
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	for _, exp := range []string{"1e300", "1e400", "9223372036854775808", "1e19"} {
		d, err := token.Decode(tokenWithExp(exp))
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Claims.ExpiresTime(); !got.After(now.AddDate(1000, 0, 0)) {
			t.Errorf("exp %s: ExpiresTime %v, want far in the future", exp, got)
		}
	}
	for _, exp := range []string{"-1e300", "-1e400"} {
		d, _ := token.Decode(tokenWithExp(exp))
		if got := d.Claims.ExpiresTime(); !got.Before(now.AddDate(-1000, 0, 0)) {
			t.Errorf("exp %s: ExpiresTime %v, want far in the past", exp, got)
		}
	}
	d, _ := token.Decode(tokenWithExp("1750003600.5"))
	if got := d.Claims.ExpiresTime(); !got.Equal(time.Unix(1750003600, 5e8)) {
		t.Errorf("fractional exp: %v", got)
	}
}

// tokenWithExp is an unsigned-looking token whose payload has exp as
// written (Decode does not check signatures).
func tokenWithExp(exp string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256"}`)) + "." + enc([]byte(`{"scope":"nimbus","tn":"a","iat":1,"exp":`+exp+`}`)) + "." + enc(make([]byte, 32))
}
