package sandboxclient_test

import (
	"testing"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

func TestResolvePath(t *testing.T) {
	for _, tc := range []struct{ root, p, want string }{
		{"/home/user", "app/a.txt", "/home/user/app/a.txt"},
		{"/home/user", "/etc/hosts", "/etc/hosts"},
		{"/home/user", "", "/home/user"},
		{"/home/user", ".", "/home/user"},
		{"/home/user", "..", "/home"},
		{"/home/user", "../../../..", "/"},
		{"/home/user/proj", "src/../lib/./x", "/home/user/proj/lib/x"},
		{"/home/user", "//abs//p/", "/abs/p"},
		{"/", "a", "/a"},
		{"", "a", "/a"},
		{"/home/user", "a b/it's", "/home/user/a b/it's"},
	} {
		if got := sc.ResolvePath(tc.root, tc.p); got != tc.want {
			t.Errorf("ResolvePath(%q, %q) = %q, want %q", tc.root, tc.p, got, tc.want)
		}
	}
}
