package token

import (
	"bytes"
	"encoding/base64"
	"regexp"
	"testing"
)

// TestAppendDecodeString checks the string decoder against
// encoding/base64 for every length and for invalid characters.
func TestAppendDecodeString(t *testing.T) {
	for n := 0; n < 70; n++ {
		raw := make([]byte, n)
		for i := range raw {
			raw[i] = byte(i*37 + n)
		}
		enc := base64.RawURLEncoding.EncodeToString(raw)
		got, ok := appendDecodeString([]byte("x"), enc)
		if !ok || !bytes.Equal(got, append([]byte("x"), raw...)) {
			t.Fatalf("len %d: got %x ok=%v", n, got, ok)
		}
	}
	for _, bad := range []string{"a", "ab=c", "a+bc", "ab/c", "abcde", "ab\x00c"} {
		if _, ok := appendDecodeString(nil, bad); ok && isBase64URL(bad) {
			t.Errorf("%q decoded", bad)
		} else if ok {
			t.Errorf("%q decoded although it is not base64url", bad)
		}
	}
}

// TestMatchBearer checks the hand-written matcher against the regular
// expression it replaces (Go's RE2 agrees with JavaScript on these inputs,
// which avoid non-ASCII case folding).
func TestMatchBearer(t *testing.T) {
	re := regexp.MustCompile(`(?i)^Bearer[\t\n\v\f\r \x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}]+([^\n\r\x{2028}\x{2029}]+)$`)
	for _, h := range []string{
		"Bearer abc", "bearer abc", "BEARER    abc", "Bearer abc def", "Bearer", "Bearer ", "Bearer  ",
		"Bearer   ", "Bearer\tx", "Bearer\u00a0x", "Bearer\u2028x", "Bearer x\ny", "Bearer \u2028", "Bearerx",
		"Basic abc", "Bearer \u3000\u3000", "bEaReR t", "Bearer \n", "Bearer \n ", "Bearer  \u2029 ",
	} {
		m := re.FindStringSubmatch(h)
		got, ok := matchBearer(h)
		if ok != (m != nil) || (ok && got != m[1]) {
			t.Errorf("matchBearer(%q) = %q, %v; regexp says %q", h, got, ok, m)
		}
	}
}
