package suggest_test

import (
	"testing"

	"github.com/nimbus-sh/nimbus/internal/suggest"
)

func TestClosest(t *testing.T) {
	known := []string{"endpoint", "token", "sandbox:use", "session:destroy"}
	for _, tc := range []struct{ word, want string }{
		{"endpont", "endpoint"},
		{"tokn", "token"},
		{"sandbox:uze", "sandbox:use"},
		{"tokne", "token"},
		{"sandbox:sue", "sandbox:use"},
		{"colour", ""},
		{"a", ""},
		{"billing:read", ""},
	} {
		if got := suggest.Closest(tc.word, known, 3); got != tc.want {
			t.Errorf("Closest(%q) = %q, want %q", tc.word, got, tc.want)
		}
	}
	if d := suggest.Distance("tokne", "token"); d != 1 {
		t.Errorf("Distance(tokne, token) = %d, want 1 (a transposition)", d)
	}
	if d := suggest.Distance("kitten", "sitting"); d != 3 {
		t.Errorf("Distance(kitten, sitting) = %d, want 3", d)
	}
}
