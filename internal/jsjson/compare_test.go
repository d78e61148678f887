package jsjson

import "testing"

// TestCompare checks Compare against the order JavaScript's < gives
// (computed by hand from the UTF-16 code units).
func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "a", -1},
		{"a", "ab", -1},
		{"B", "a", -1},
		{"z10", "z9", -1},
		{"\U0001f600", "\uff21", -1}, // D83D DE00 < FF21
		{"\uff21", "\ue000", 1},
		{"\U0001f600", "\U0001f601", -1}, // one high surrogate, low ones decide
		{"\U0001f600", "\U00010000", 1},
		{"\xff", "\ufffd", 0}, // invalid UTF-8 reads as U+FFFD
		{"same", "same", 0},
	} {
		if got := Compare(tc.a, tc.b); got != tc.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := Compare(tc.b, tc.a); got != -tc.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}
