package jsjson

import (
	"strconv"
	"testing"
)

// TestNumberOf checks the integer fast path against strconv.
func TestNumberOf(t *testing.T) {
	for _, raw := range []string{"0", "7", "1750000000", "999999999999999", "9999999999999999", "12345678901234567890", "-5", "1.5", "1e3", "0.1", "-0", "1E+2"} {
		got, ok := NumberOf(raw)
		want, _ := strconv.ParseFloat(raw, 64)
		if !ok || got != want {
			t.Errorf("NumberOf(%q) = %v, %v; want %v", raw, got, ok, want)
		}
	}
	for _, raw := range []string{"", `"1"`, "true", "null", "[1]"} {
		if _, ok := NumberOf(raw); ok {
			t.Errorf("NumberOf(%q) accepted a non-number", raw)
		}
	}
}
