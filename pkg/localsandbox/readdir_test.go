//go:build unix

package localsandbox_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// TestReaddirIsSortedAsTheWorker pins readdir's order to the Worker's
// VFS, which sorts the entries by name with JavaScript's < (UTF-16 code
// units: "B" before "a", and U+1F600 before U+FF21, unlike byte order),
// where the directory's own order is the file system's.
func TestReaddirIsSortedAsTheWorker(t *testing.T) {
	_, hs := newServer(t)
	const id = "sorted"
	if st, body := rawRPC(t, hs.URL, id, "mkdir", "/home/user/d"); st != 200 {
		t.Fatalf("%d %s", st, body)
	}
	names := []string{"\uff21", "\U0001f600", "a", "B", "_", "z10", "z9"}
	for i := 30; i >= 0; i-- {
		names = append(names, fmt.Sprintf("f%02d", i))
	}
	for _, n := range names {
		if st, body := rawRPC(t, hs.URL, id, "writeFile", "/home/user/d/"+n, n); st != 200 {
			t.Fatalf("%d %s", st, body)
		}
	}
	want := []string{"B", "_", "a"}
	for i := 0; i <= 30; i++ {
		want = append(want, fmt.Sprintf("f%02d", i))
	}
	want = append(want, "z10", "z9", "\U0001f600", "\uff21")
	st, body := rawRPC(t, hs.URL, id, "readdir", "/home/user/d")
	var r struct {
		Result []struct {
			Name string `json:"name"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || st != 200 {
		t.Fatalf("%d %s %v", st, body, err)
	}
	var got []string
	for _, e := range r.Result {
		got = append(got, e.Name)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("readdir order\n got %q\nwant %q", got, want)
	}
}
