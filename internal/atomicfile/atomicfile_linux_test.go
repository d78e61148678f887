package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWriteFileLeavesNothingWhenTheWriteFails makes the write itself fail
// half-way, as a full disk would: with the file size limit (RLIMIT_FSIZE)
// at 4 bytes, writing 8 fails with EFBIG (the Go runtime ignores SIGXFSZ).
// The old file must be untouched and no temporary file left. Not parallel:
// the limit belongs to the whole process.
func TestWriteFileLeavesNothingWhenTheWriteFails(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	small := old
	small.Cur = 4
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &small); err != nil {
		t.Fatal(err)
	}
	errs := []error{
		WriteFile(p, []byte("12345678"), Options{Perm: 0o644}),
		WriteFile(p, []byte("12345678"), Options{Perm: 0o600, Exact: true, Sync: true}),
		CreateExclusive(filepath.Join(dir, "secret"), []byte("12345678"), 0o600),
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		if !errors.Is(err, syscall.EFBIG) {
			t.Errorf("write %d: %v, want EFBIG", i, err)
		}
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Errorf("the old file changed: %q", b)
	}
	if extra := leftovers(t, dir, "f"); extra != nil {
		t.Errorf("left behind: %v", extra)
	}
}
