//go:build unix

package atomicfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// withUmask runs f with the process's umask set to mask. Not parallel: the
// umask belongs to the whole process.
func withUmask(mask int, f func()) {
	old := syscall.Umask(mask)
	defer syscall.Umask(old)
	f()
}

// TestWriteFileModes checks each way of deciding the mode under a umask
// that would narrow it: by default a new file gets perm less the umask and
// an existing one keeps its bits (os.WriteFile's rule, which scaffolded
// and edited configs follow); Exact gives exactly perm either way (private
// state, history).
func TestWriteFileModes(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	withUmask(0o027, func() {
		if err := WriteFile(p, []byte("a"), Options{Perm: 0o664}); err != nil {
			t.Fatal(err)
		}
		if m := modeOf(t, p); m != 0o640 {
			t.Errorf("new file, umask 027: %v, want 0640", m)
		}
		if err := os.Chmod(p, 0o604); err != nil {
			t.Fatal(err)
		}
		if err := WriteFile(p, []byte("b"), Options{Perm: 0o664, Sync: true}); err != nil {
			t.Fatal(err)
		}
		if m := modeOf(t, p); m != 0o604 {
			t.Errorf("existing file: %v, want its own 0604", m)
		}

		q := filepath.Join(dir, "g")
		if err := WriteFile(q, []byte("a"), Options{Perm: 0o644, Exact: true}); err != nil {
			t.Fatal(err)
		}
		if m := modeOf(t, q); m != 0o644 {
			t.Errorf("exact, new file under umask 027: %v, want 0644", m)
		}
		if err := os.Chmod(q, 0o666); err != nil {
			t.Fatal(err)
		}
		if err := WriteFile(q, []byte("b"), Options{Perm: 0o600, Exact: true}); err != nil {
			t.Fatal(err)
		}
		if m := modeOf(t, q); m != 0o600 {
			t.Errorf("exact over a 0666 file: %v, want 0600", m)
		}
	})
	if b, _ := os.ReadFile(p); string(b) != "b" {
		t.Errorf("content %q", b)
	}
	if extra := leftovers(t, dir, "f", "g"); extra != nil {
		t.Errorf("left behind: %v", extra)
	}
}
