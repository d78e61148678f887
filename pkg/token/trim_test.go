package token_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/token"
)

// TestDecodeAndVerifyTakeTheSameToken: Decode trimmed the white space
// around a token and Verify did not, so a token written by echo (a line
// break at its end) decoded but did not verify. Both take it verbatim now,
// as upstream's verifyNimbusToken does (vector err_whitespace_in_sig),
// and Trim is the one rule for text that holds a token: what it leaves
// both decode and verify.
func TestDecodeAndVerifyTakeTheSameToken(t *testing.T) {
	now := func() time.Time { return time.UnixMilli(1750000000123) }
	tenant, sub := "acme", "alice"
	tok, err := token.Issuer{Secret: "nimbus-test-secret", Now: now}.Mint(token.Input{Tenant: &tenant, Subject: &sub})
	if err != nil {
		t.Fatal(err)
	}
	v := token.Verifier{Secret: "nimbus-test-secret", Now: now}
	for _, text := range []string{
		tok + "\n", // echo "$TOKEN" > file
		tok + "\r\n",
		"  " + tok + " \t",
		"\ufeff" + tok + "\n", // a file saved with a byte order mark
		"\n" + tok,
	} {
		_, derr := token.Decode(text)
		_, verr := v.Verify(text)
		var de, ve *token.Error
		if !errors.As(derr, &de) || !errors.As(verr, &ve) {
			t.Errorf("%q: Decode: %v, Verify: %v; want both to refuse the token with the white space around it", text, derr, verr)
		}
		got := token.Trim(text)
		if got != tok {
			t.Fatalf("Trim(%q) = %q, want the token", text, got)
		}
		if _, err := token.Decode(got); err != nil {
			t.Errorf("Decode(Trim(%q)): %v", text, err)
		}
		if r, err := v.Verify(got); err != nil || r.DOInstanceName != "acme:alice" {
			t.Errorf("Verify(Trim(%q)): %v, %v", text, r, err)
		}
	}
	// The shape checks are the same in both.
	for _, text := range []string{"", " ", "a.b", "a.b.c.d", tok + ".x"} {
		_, derr := token.Decode(text)
		_, verr := v.Verify(text)
		if derr == nil || verr == nil || derr.Error() != verr.Error() {
			t.Errorf("%q: Decode: %v, Verify: %v; want the same error", text, derr, verr)
		}
	}
}
