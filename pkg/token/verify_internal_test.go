package token

import (
	"bytes"
	"encoding/base64"
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
