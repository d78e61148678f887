package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
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

// leftovers lists what a write may have left in dir besides want.
func leftovers(t *testing.T, dir string, want ...string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var extra []string
	for _, e := range entries {
		if !slices.Contains(want, e.Name()) {
			extra = append(extra, e.Name())
		}
	}
	return extra
}

func modeOf(t *testing.T, p string) fs.FileMode {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// TestWriteFileWritesThroughLinks checks the one rule for a symbolic link
// at the destination: the file it leads to is replaced (keeping its mode),
// through a chain and a relative link read from the link's real directory,
// or created when the link leads to nowhere; the link stays a link.
func TestWriteFileWritesThroughLinks(t *testing.T) {
	root := t.TempDir()
	shared := filepath.Join(root, "shared")
	proj := filepath.Join(root, "repo", "proj")
	for _, d := range []string{shared, proj} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	target := filepath.Join(shared, "wrangler.jsonc")
	if err := os.WriteFile(target, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	// proj/cfg -> ../../shared/wrangler.jsonc, and a link to that link
	// reached through a linked directory (alias -> repo/proj).
	link := filepath.Join(proj, "cfg")
	if err := os.Symlink(filepath.Join("..", "..", "shared", "wrangler.jsonc"), link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("repo", "proj"), filepath.Join(root, "alias")); err != nil {
		t.Fatal(err)
	}
	chain := filepath.Join(root, "chain")
	if err := os.Symlink(filepath.Join("alias", "cfg"), chain); err != nil {
		t.Fatal(err)
	}
	for _, via := range []string{link, chain, filepath.Join(root, "alias", "cfg")} {
		if err := WriteFile(via, []byte("via "+via), Options{Perm: 0o644, Sync: true}); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(target); string(b) != "via "+via {
			t.Errorf("through %s: target holds %q", via, b)
		}
		if st, err := os.Lstat(link); err != nil || st.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("through %s: the link was replaced: %v %v", via, st, err)
		}
		if m := modeOf(t, target); m != 0o640 {
			t.Errorf("through %s: target mode %v, want its own 0640", via, m)
		}
	}

	dangling := filepath.Join(proj, "new")
	if err := os.Symlink(filepath.Join(shared, "created"), dangling); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(dangling, []byte("new"), Options{Perm: 0o600}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(shared, "created")); err != nil || string(b) != "new" {
		t.Errorf("a link to nowhere: its target holds %q, %v", b, err)
	}
	if st, err := os.Lstat(dangling); err != nil || st.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("a link to nowhere was replaced: %v", err)
	}

	loop := filepath.Join(root, "loop")
	if err := os.Symlink("loop", loop); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(loop, []byte("x"), Options{Perm: 0o600}); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("a link to itself: %v, want ELOOP", err)
	}
	if extra := leftovers(t, shared, "wrangler.jsonc", "created"); extra != nil {
		t.Errorf("left behind: %v", extra)
	}
	if extra := leftovers(t, root, "shared", "repo", "alias", "chain", "loop"); extra != nil {
		t.Errorf("left behind: %v", extra)
	}
}

// TestWriteFileLeavesNothingWhenTheRenameFails: the target is a non-empty
// directory, so the rename fails after the temporary file was written; the
// directory stays as it was and no temporary file is left. A missing
// directory fails with fs.ErrNotExist.
func TestWriteFileLeavesNothingWhenTheRenameFails(t *testing.T) {
	dir := t.TempDir()
	d := filepath.Join(dir, "d")
	if err := os.MkdirAll(filepath.Join(d, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, o := range []Options{{Perm: 0o644}, {Perm: 0o600, Exact: true, Sync: true}} {
		if err := WriteFile(d, []byte("data"), o); err == nil {
			t.Fatalf("%+v: a rename over a directory succeeded", o)
		}
		if extra := leftovers(t, dir, "d"); extra != nil {
			t.Errorf("%+v: left behind: %v", o, extra)
		}
		if extra := leftovers(t, d, "x"); extra != nil {
			t.Errorf("%+v: the directory changed: %v", o, extra)
		}
	}
	if err := WriteFile(filepath.Join(dir, "missing", "f"), nil, Options{Perm: 0o644}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing directory: %v, want fs.ErrNotExist", err)
	}
}
