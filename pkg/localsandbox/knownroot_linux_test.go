package localsandbox

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nimbus-sh/nimbus/internal/proctest"
)

// TestReadyRootRemembered: once ready has found its root a plain
// directory, and the directories above it have been left alone long
// enough, ready trusts two fstat calls; any change above the root (it is
// removed, replaced by a symlink that leads out, its parent renamed) is
// still seen, as without the memory (removed, it is made again; a symlink
// that leads out is refused), and the descriptor it holds goes with
// the sandbox's handle.
func TestReadyRootRemembered(t *testing.T) {
	old := stableAge
	stableAge = 30 * time.Millisecond
	defer func() { stableAge = old }()
	s, err := New(Options{DataDir: t.TempDir(), Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const do = "acme:_:box"
	ensure := func() (known bool, aerr error) {
		t.Helper()
		h, e := s.enter(context.Background(), do, "box")
		if e != nil {
			t.Fatal(e)
		}
		defer h.leave()
		known = h.sb.rootKnownPlain("home/user")
		if e := h.sb.ensureRoot("/home/user"); e != nil {
			return known, e
		}
		return known, nil
	}
	dir := s.SandboxDir(do)
	home, user := filepath.Join(dir, "home"), filepath.Join(dir, "home", "user")
	// settle waits until the directories above the root have not changed
	// for stableAge (their change times are behind the clock by that).
	settle := func() {
		t.Helper()
		proctest.WaitFor(t, "the sandbox's directories to be older than stableAge", func() bool {
			cutoff := time.Now().Add(-2 * stableAge).UnixNano()
			for _, d := range []string{dir, home} {
				var st unix.Stat_t
				if err := unix.Lstat(d, &st); err != nil || st.Ctim.Nano() >= cutoff {
					return false
				}
			}
			return true
		})
	}
	if _, err := ensure(); err != nil {
		t.Fatal(err)
	}
	settle()
	if known, err := ensure(); known || err != nil { // checked, and now kept
		t.Fatalf("known %v before it was checked once settled, %v", known, err)
	}
	if known, err := ensure(); !known || err != nil {
		t.Fatalf("not remembered: %v", err)
	}

	// Removed: seen, and made again.
	if err := os.RemoveAll(user); err != nil {
		t.Fatal(err)
	}
	if known, err := ensure(); known || err != nil {
		t.Fatalf("removed root still known (%v)", err)
	}
	if fi, err := os.Lstat(user); err != nil || !fi.IsDir() {
		t.Fatalf("root not made again: %v", err)
	}

	// Replaced by a symlink that leads out: refused, as it is uncached.
	settle()
	_, _ = ensure()
	if known, _ := ensure(); !known {
		t.Fatal("not remembered again")
	}
	outside := t.TempDir()
	if err := os.Remove(user); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, user); err != nil {
		t.Fatal(err)
	}
	if known, err := ensure(); known || err == nil {
		t.Fatalf("symlinked root: known %v, %v", known, err)
	}

	// The parent renamed away and a fresh one made: seen.
	if err := os.Remove(user); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(user, 0o755); err != nil {
		t.Fatal(err)
	}
	settle()
	_, _ = ensure()
	if known, _ := ensure(); !known {
		t.Fatal("not remembered after the repair")
	}
	if err := os.Rename(home, filepath.Join(dir, "home2")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("home2", home); err != nil {
		t.Fatal(err)
	}
	// A symlink inside the sandbox is followed, as os.Root does, but the
	// root is no longer one to remember.
	for range 2 {
		if known, err := ensure(); known || err != nil {
			t.Fatalf("parent replaced by a symlink: known %v, %v", known, err)
		}
	}

	// The descriptor goes with the handle.
	h, e := s.enter(context.Background(), do, "box")
	if e != nil {
		t.Fatal(e)
	}
	h.leave()
	h.sb.rootMu.Lock()
	h.sb.forgetRootLocked()
	h.sb.rootMu.Unlock()
	if err := os.Remove(home); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "home2"), home); err != nil {
		t.Fatal(err)
	}
	settle()
	_, _ = ensure()
	if known, _ := ensure(); !known {
		t.Fatal("not remembered at the end")
	}
	h.sb.closeRoot()
	h.sb.rootMu.Lock()
	k := h.sb.known
	h.sb.rootMu.Unlock()
	if k != nil {
		t.Fatal("the known root outlived the sandbox's handle")
	}
}
