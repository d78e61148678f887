//go:build unix

package iostreams

import (
	"os"
	"path/filepath"
	"testing"
)

// TestStdinHasData: only input that would be lost counts, and asking never
// waits on a pipe whose writer is still open.
func TestStdinHasData(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if hasData(r) {
		t.Error("an open pipe without data counts as input")
	}
	w.Write([]byte("data"))
	if !hasData(r) {
		t.Error("a pipe with data does not count")
	}
	w.Close()

	r2, w2, _ := os.Pipe()
	w2.Close()
	if hasData(r2) {
		t.Error("a closed empty pipe counts as input")
	}
	r2.Close()

	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o644)
	full := filepath.Join(t.TempDir(), "full")
	os.WriteFile(full, []byte("x"), 0o644)
	for path, want := range map[string]bool{empty: false, full: true, os.DevNull: false} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := hasData(f); got != want {
			t.Errorf("%s: %v, want %v", path, got, want)
		}
		f.Close()
	}
}
