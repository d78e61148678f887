package idrule

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	for _, c := range []struct {
		id   string
		want bool
	}{
		{"job-1", true}, {"A.b_C-9", true}, {strings.Repeat("x", 128), true},
		{"", false}, {strings.Repeat("x", 129), false}, {"a:b", false}, {"a b", false}, {"é", false}, {"a/b", false},
	} {
		if got := Valid(c.id); got != c.want {
			t.Errorf("Valid(%q) = %v, want %v", c.id, got, c.want)
		}
	}
}

func TestHostSafe(t *testing.T) {
	for _, c := range []struct {
		id   string
		want bool
	}{
		{"job-1", true}, {"a", true}, {strings.Repeat("x", 56), true},
		{"", false}, {strings.Repeat("x", 57), false}, {"-a", false}, {"a-", false},
		{"Job-1", false}, {"a.b", false}, {"a_b", false}, {"é", false},
	} {
		if got := HostSafe(c.id); got != c.want {
			t.Errorf("HostSafe(%q) = %v, want %v", c.id, got, c.want)
		}
	}
}
