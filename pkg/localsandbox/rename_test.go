//go:build unix

package localsandbox_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestRenameOntoADirectoryIsTheWorkers: a rename onto an existing
// directory is refused with the texts of the Worker's VFS
// (packages/worker/src/vfs/sqlite-vfs.ts, rename), over the real HTTP
// interface: a file onto a directory is EISDIR (the host says EEXIST), a
// directory onto a directory, empty or not, is refused whole (the host
// says EEXIST or ENOTEMPTY, or lets it replace an empty one).
func TestRenameOntoADirectoryIsTheWorkers(t *testing.T) {
	_, hs := newServer(t)
	id := "rename-errors"
	for _, c := range [][]any{
		{"mkdir", "/home/user/dir/kept"},
		{"mkdir", "/home/user/full/sub"},
		{"mkdir", "/home/user/empty"},
		{"writeFile", "/home/user/file.txt", "x"},
	} {
		if st, body := rawRPC(t, hs.URL, id, c[0].(string), c[1:]...); st != 200 {
			t.Fatalf("%v: %d %s", c, st, body)
		}
	}
	// The texts, from the Worker's code (testdata/upstream): a directory
	// onto a directory is refused first, then a file.
	src, err := os.ReadFile(filepath.Join("testdata", "upstream", "sqlite-vfs-rename.ts"))
	if err != nil {
		t.Fatal(err)
	}
	thrown := regexp.MustCompile(`throw new Error\("([^"]*)"\)`).FindAllStringSubmatch(string(src), -1)
	if len(thrown) != 2 {
		t.Fatalf("the upstream excerpt throws %d constant errors, want the two onto a directory", len(thrown))
	}
	dirOntoDir, fileOntoDir := thrown[0][1], thrown[1][1]
	for _, c := range []struct{ from, to, want string }{
		{"/home/user/file.txt", "/home/user/dir", fileOntoDir},
		{"/home/user/file.txt", "/home/user/empty", fileOntoDir},
		{"/home/user/dir", "/home/user/full", dirOntoDir},
		{"/home/user/dir", "/home/user/empty", dirOntoDir},
		// Deliberate differences (docs/compat.md): the VFS would drop the
		// file, or lose the directory from the tree.
		{"/home/user/dir", "/home/user/file.txt", "ENOTDIR: not a directory, rename '/home/user/dir'"},
		{"/home/user/dir", "/home/user/dir/inside", "EINVAL: invalid argument, rename '/home/user/dir'"},
		{"/home/user/file.txt", "/home/user/nowhere/file.txt", "ENOENT: no such file or directory, rename '/home/user/file.txt'"},
		{"/home/user/missing", "/home/user/dir", "ENOENT: no such file or directory, rename '/home/user/missing'"},
	} {
		st, code, msg := rpcErr(t, hs.URL, id, "rename", c.from, c.to)
		if st != 500 || code != "E_NIMBUS_REMOTE_RPC" || msg != c.want {
			t.Errorf("rename %s -> %s: %d %s %q, want 500 E_NIMBUS_REMOTE_RPC %q", c.from, c.to, st, code, msg, c.want)
		}
	}
	// Nothing moved.
	for _, p := range []string{"/home/user/file.txt", "/home/user/dir/kept", "/home/user/empty", "/home/user/full/sub"} {
		if st, body := rawRPC(t, hs.URL, id, "exists", p); st != 200 || body != `{"ok":true,"result":true}` {
			t.Errorf("%s after the refused renames: %d %s", p, st, body)
		}
	}
}
