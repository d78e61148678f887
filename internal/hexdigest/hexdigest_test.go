package hexdigest

import (
	"regexp"
	"strings"
	"testing"
)

var sha256RE = regexp.MustCompile(`^[a-f0-9]{64}$`)

func TestIsSHA256(t *testing.T) {
	ok := strings.Repeat("0123456789abcdef", 4)
	for s, want := range map[string]bool{
		ok:                         true,
		strings.ToUpper(ok):        false, // sha256sum prints lowercase; digests compare as strings
		ok[:63]:                    false,
		ok + "0":                   false,
		ok[:63] + "g":              false,
		"":                         false,
		strings.Repeat("é", 32):    false, // 64 bytes, not digits
		" " + ok[1:]:               false,
		ok[:32] + "\x00" + ok[33:]: false,
	} {
		if got := IsSHA256(s); got != want {
			t.Errorf("IsSHA256(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzIsSHA256 holds the hand-written check to the regular expression it
// replaces.
func FuzzIsSHA256(f *testing.F) {
	f.Add(strings.Repeat("0123456789abcdef", 4))
	f.Add(strings.Repeat("A", 64))
	f.Add(`"quoted"`)
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := IsSHA256(s), sha256RE.MatchString(s); got != want {
			t.Fatalf("IsSHA256(%q) = %v, regexp says %v", s, got, want)
		}
	})
}
