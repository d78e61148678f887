package token

import (
	"bytes"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nimbus-sh/nimbus/internal/jsjson"
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

// matchBearerBacktracking is matchBearer as a backtracking engine runs
// the regular expression: every length of \s+, longest first. It is the
// reference the faster matchBearer is checked against.
func matchBearerBacktracking(h string) (string, bool) {
	if len(h) < 6 || !strings.EqualFold(h[:6], "bearer") {
		return "", false
	}
	rest := h[6:]
	var ends []int
	for i, r := range rest {
		if !jsjson.IsSpace(r) {
			break
		}
		ends = append(ends, i+utf8.RuneLen(r))
	}
	for k := len(ends) - 1; k >= 0; k-- {
		tok := rest[ends[k]:]
		if tok != "" && !strings.ContainsFunc(tok, isLineTerminator) {
			return tok, true
		}
	}
	return "", false
}

// FuzzMatchBearer: matchBearer agrees with trying every length of the
// whitespace run, on any header, valid UTF-8 or not.
func FuzzMatchBearer(f *testing.F) {
	for _, h := range []string{"Bearer abc", "Bearer  ", "Bearer \u2028", "Bearer \u3000\u3000", "Bearer  \u2029 ", "bearer \n x", "Bearer \xff x", "Bearer\ufeff\ufeff"} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		got, ok := matchBearer(h)
		want, wantOK := matchBearerBacktracking(h)
		if got != want || ok != wantOK {
			t.Fatalf("matchBearer(%q) = %q, %v; backtracking gives %q, %v", h, got, ok, want, wantOK)
		}
	})
}

// BenchmarkMatchBearer is the header of every request to nimbus dev.
func BenchmarkMatchBearer(b *testing.B) {
	h := "Bearer " + strings.Repeat("x", 200)
	for b.Loop() {
		if _, ok := matchBearer(h); !ok {
			b.Fatal("no match")
		}
	}
}
