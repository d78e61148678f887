package localsandbox

import (
	"reflect"
	"testing"
)

func TestParseLsof(t *testing.T) {
	out := []byte("p501\ng501\nf5\nn*:3000\nf6\nn127.0.0.1:8080\np777\ng700\nf3\nn[::1]:5173\nf4\nn127.0.0.1:5000->127.0.0.1:61000\np900\ng900\nf9\nnbogus\n")
	ls := parseLsof(out)
	want := []lsofListener{{501, 501, 3000}, {501, 501, 8080}, {777, 700, 5173}}
	if !reflect.DeepEqual(ls, want) {
		t.Fatalf("%+v", ls)
	}
	a, b := &proc{pid: 1}, &proc{pid: 2}
	// The leader's own socket, and a group member's.
	got := matchLsof(ls, map[int]*proc{501: a, 700: b})
	if !reflect.DeepEqual(got, map[int]*proc{3000: a, 8080: a, 5173: b}) {
		t.Fatalf("%v", got)
	}
}
