package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestCreateExclusive checks the contract generated secrets rely on: a new
// file whole and private, nothing already at the path touched (a file or a
// symlink, even one to nowhere, which O_CREAT would have followed), and no
// temporary file left either way.
func TestCreateExclusive(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "secret")
	if err := CreateExclusive(p, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "s3cret\n" {
		t.Fatalf("content %q, %v", b, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if err := CreateExclusive(p, []byte("other\n"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("over an existing file: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "s3cret\n" {
		t.Fatalf("existing file changed: %q", b)
	}

	link := filepath.Join(dir, "link")
	target := filepath.Join(dir, "elsewhere")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := CreateExclusive(link, []byte("x\n"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("over a dangling symlink: %v", err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the link was followed: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("left behind: %v", entries)
	}
}
