package userinfo

import "testing"

func TestCut(t *testing.T) {
	for _, tc := range []struct {
		in, before, info, after string
		found                   bool
	}{
		{"https://host/p", "https://host/p", "", "", false},
		{"https://u:p@host/p", "https://", "u:p", "host/p", true},
		{"https://u:p@w@host:8/p@q?x=@#@", "https://", "u:p@w", "host:8/p@q?x=@#@", true},
		{"//u@host", "//", "u", "host", true},
		{"u:p@host", "", "u:p", "host", true},
		{"host/a@b", "host/a@b", "", "", false},
		{"", "", "", "", false},
	} {
		before, info, after, found := Cut(tc.in)
		if before != tc.before || info != tc.info || after != tc.after || found != tc.found {
			t.Errorf("Cut(%q) = %q, %q, %q, %v; want %q, %q, %q, %v", tc.in, before, info, after, found, tc.before, tc.info, tc.after, tc.found)
		}
	}
}
