//go:build unix

package localsandbox_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// TestDurableWritesFailLoudly: writeFile, mkdir and rename answer ok only
// after their change is flushed to the disk, and a failure of any step
// that makes it durable (the new file's fsync, its rename over the target,
// the directory's fsync) is an error answer, never ok. Before the flush
// fails the target keeps its old content and no temporary file is left.
// Each of the write's ways is taken: a new file, a file written over (a
// kept file, on Linux), and a file behind a symlink (through the root).
func TestDurableWritesFailLoudly(t *testing.T) {
	s, hs := newServer(t)
	tok := mint(t, "dur", token.ScopeSandboxUse)
	const id = "dur"
	home := filepath.Join(s.SandboxDir("acme:alice:"+id), "home", "user")
	ok := func(op string, args ...any) {
		t.Helper()
		if e := call(t, hs.URL, tok, id, op, args...); !e.OK {
			t.Fatalf("%s %v: %s", op, args, e.Error)
		}
	}
	ok("writeFile", "/home/user/over", "old")
	ok("writeFile", "/home/user/behind", "old")
	if err := os.Symlink("behind", filepath.Join(home, "link")); err != nil {
		t.Fatal(err)
	}

	// Without a fault, each way goes through every step, in order.
	take, restore := recordSyncSteps()
	for _, p := range []string{"/home/user/fresh", "/home/user/over", "/home/user/link"} {
		take()
		ok("writeFile", p, "new")
		if got, want := take(), []string{"fsync", "rename", "fsync-dir"}; !slices.Equal(got, want) {
			t.Errorf("writeFile %s: steps %q, want %q", p, got, want)
		}
	}
	take()
	ok("mkdir", "/home/user/a/b", map[string]any{"recursive": true})
	if got, want := take(), []string{"fsync-dir", "fsync-dir"}; !slices.Equal(got, want) {
		t.Errorf("mkdir: steps %q, want %q (home and a got an entry)", got, want)
	}
	ok("rename", "/home/user/fresh", "/home/user/a/fresh")
	if got, want := take(), []string{"fsync", "rename", "fsync-dir", "fsync-dir"}; !slices.Equal(got, want) {
		t.Errorf("rename: steps %q, want %q", got, want)
	}
	restore()

	for _, failing := range []string{"fsync", "rename", "fsync-dir"} {
		t.Run(failing, func(t *testing.T) {
			ok("writeFile", "/home/user/over", "old")
			ok("writeFile", "/home/user/behind", "old")
			defer localsandbox.SetSyncFault(func(step string) error {
				if step == failing {
					return syscall.EIO
				}
				return nil
			})()
			for _, w := range []struct{ path, host, before string }{
				{"/home/user/new-" + failing, "new-" + failing, ""},
				{"/home/user/over", "over", "old"},
				{"/home/user/link", "behind", "old"},
			} {
				e := call(t, hs.URL, tok, id, "writeFile", w.path, "new")
				if e.OK || !strings.HasPrefix(e.Error, "EIO: ") || !strings.HasSuffix(e.Error, "'"+w.path+"'") || e.status != 500 {
					t.Errorf("writeFile %s with %s failing: %d %+v", w.path, failing, e.status, e)
				}
				if failing == "fsync-dir" {
					continue // renamed already: the new content may or may not stay
				}
				b, err := os.ReadFile(filepath.Join(home, w.host))
				if got := string(b); got != w.before || w.before == "" && !os.IsNotExist(err) {
					t.Errorf("writeFile %s failed at %s, but the file holds %q (%v), not %q", w.path, failing, got, err, w.before)
				}
			}
			ents, err := os.ReadDir(home)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if strings.Contains(e.Name(), ".nimbus-") {
					t.Errorf("temporary file left: %s", e.Name())
				}
			}
			e := call(t, hs.URL, tok, id, "rename", "/home/user/over", "/home/user/a/over-"+failing)
			if e.OK || !strings.HasPrefix(e.Error, "EIO: ") {
				t.Errorf("rename with %s failing: %+v", failing, e)
			}
			if failing == "fsync" {
				// Not flushed, not moved: the file keeps its name.
				if _, err := os.Stat(filepath.Join(home, "over")); err != nil {
					t.Errorf("rename failed at fsync, but the file moved: %v", err)
				}
			}
			if failing == "fsync-dir" {
				e := call(t, hs.URL, tok, id, "mkdir", "/home/user/m/n", map[string]any{"recursive": true})
				if e.OK || e.Error != "EIO: input/output error, fsync '/home/user/m/n'" {
					t.Errorf("mkdir with %s failing: %+v", failing, e)
				}
			}
		})
	}
}

// TestDurableDeletesAndModesFailLoudly: deleteFile answers ok only after
// the directory that held the name is flushed (a delete must not come back
// after a crash), chmod only after the file's inode is, and the
// directories ready's root and exec's cwd make are flushed as mkdir's are;
// a failure of the flush is an error answer, never ok.
func TestDurableDeletesAndModesFailLoudly(t *testing.T) {
	_, hs := newServer(t)
	const id = "durdel"
	tok := mint(t, id, token.ScopeSandboxUse)
	ok := func(op string, args ...any) {
		t.Helper()
		if e := call(t, hs.URL, tok, id, op, args...); !e.OK {
			t.Fatalf("%s %v: %s", op, args, e.Error)
		}
	}
	// ready with a root, as the SDK sends it: the root is made if missing.
	ready := func(root string) envelope {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"op": "ready", "args": []any{map[string]any{}}, "root": root})
		req, err := http.NewRequest(http.MethodPost, hs.URL+"/api/nimbus/v1/sandboxes/"+id+"/rpc", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e envelope
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
			t.Fatal(err)
		}
		e.status = resp.StatusCode
		return e
	}
	ok("writeFile", "/home/user/gone", "x")
	ok("writeFile", "/home/user/f.sh", "x")
	ok("mkdir", "/home/user/tree/sub", map[string]any{"recursive": true})

	take, restore := recordSyncSteps()
	for _, c := range []struct {
		name string
		do   func()
		want []string
	}{
		{"deleteFile", func() { ok("deleteFile", "/home/user/gone") }, []string{"fsync-dir"}},
		{"deleteFile recursive", func() { ok("deleteFile", "/home/user/tree", map[string]any{"recursive": true}) }, []string{"fsync-dir"}},
		{"chmod", func() { ok("chmod", "/home/user/f.sh", 0o755) }, []string{"fsync"}},
		// A mode without read permission: flushed still (through the
		// file opened before the change, or its directory).
		{"chmod 0", func() { ok("chmod", "/home/user/f.sh", 0) }, []string{"fsync"}},
		{"ready's root", func() {
			if e := ready("/srv/app"); !e.OK {
				t.Fatalf("ready: %+v", e)
			}
		}, []string{"fsync-dir", "fsync-dir"}}, // / and /srv got an entry
	} {
		take()
		c.do()
		if got := take(); !slices.Equal(got, c.want) {
			t.Errorf("%s: steps %q, want %q", c.name, got, c.want)
		}
	}
	restore()
	ok("chmod", "/home/user/f.sh", 0o644)

	ok("writeFile", "/home/user/gone", "x")
	defer localsandbox.SetSyncFault(func(string) error { return syscall.EIO })()
	if e := call(t, hs.URL, tok, id, "deleteFile", "/home/user/gone"); e.OK || e.Error != "EIO: input/output error, fsync '/home/user/gone'" || e.status != 500 {
		t.Errorf("deleteFile with fsync-dir failing: %d %+v", e.status, e)
	}
	if e := call(t, hs.URL, tok, id, "chmod", "/home/user/f.sh", 0o755); e.OK || e.Error != "EIO: input/output error, fsync '/home/user/f.sh'" || e.status != 500 {
		t.Errorf("chmod with fsync failing: %d %+v", e.status, e)
	}
	if e := ready("/srv/other"); e.OK || e.Error != "EIO: input/output error, fsync '/srv/other'" {
		t.Errorf("ready's root with fsync-dir failing: %d %+v", e.status, e)
	}
}

// recordSyncSteps makes the server record each flush step it takes, in
// order, until restore; take returns the steps since the last take.
func recordSyncSteps() (take func() []string, restore func()) {
	var mu sync.Mutex
	var steps []string
	restore = localsandbox.SetSyncFault(func(step string) error {
		mu.Lock()
		defer mu.Unlock()
		steps = append(steps, step)
		return nil
	})
	take = func() []string {
		mu.Lock()
		defer mu.Unlock()
		got := steps
		steps = nil
		return got
	}
	return take, restore
}
