package portnum

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		min  int
		want int
		err  error
	}{
		{"3000", 1, 3000, nil},
		{"1", 1, 1, nil},
		{"65535", 1, 65535, nil},
		{"0", 0, 0, nil},
		{"0", 1, 0, ErrRange},
		{"65536", 1, 0, ErrRange},
		{"99999", 0, 0, ErrRange},
		{"123456789012345678901234567890", 1, 0, ErrRange},
		{"+3000", 1, 0, ErrForm},
		{"-1", 0, 0, ErrForm},
		{"03000", 1, 0, ErrForm},
		{"00", 0, 0, ErrForm},
		{" 3000", 1, 0, ErrForm},
		{"3000 ", 1, 0, ErrForm},
		{"3_000", 1, 0, ErrForm},
		{"0x10", 1, 0, ErrForm},
		{"３０００", 1, 0, ErrForm},
		{"http", 1, 0, ErrForm},
		{"", 0, 0, ErrForm},
	} {
		n, err := Parse(c.in, c.min)
		if n != c.want || !errors.Is(err, c.err) {
			t.Errorf("Parse(%q, %d) = %d, %v; want %d, %v", c.in, c.min, n, err, c.want, c.err)
		}
	}
}

func TestSuggest(t *testing.T) {
	for in, want := range map[string]string{
		"+3000": "3000", "03000": "3000", " 3000 ": "3000", "+03000": "3000", "00": "0",
		"3000": "", "-3000": "", "abc": "", "99999": "", "+99999": "", "": "",
	} {
		if got := Suggest(in, 0); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Suggest("+0", 1); got != "" {
		t.Errorf("Suggest(+0, 1) = %q: 0 is no port from 1", got)
	}
}
