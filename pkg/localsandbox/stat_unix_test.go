//go:build linux || darwin

package localsandbox

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestStatSysTimes: statSys reports the platform stat's access and change
// times in epoch milliseconds, as Node does (the access time set to one
// known to the millisecond, the change time that of the Chtimes itself).
func TestStatSysTimes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second).UnixMilli()
	atime := time.UnixMilli(1_000_000_000_123)
	if err := os.Chtimes(p, atime, atime); err != nil {
		t.Fatal(err)
	}
	after := time.Now().Add(time.Second).UnixMilli()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	statSys(fi, out)
	if got, ok := out["atime"].(int64); !ok || got != atime.UnixMilli() {
		t.Errorf("atime %v (%T), want %d", out["atime"], out["atime"], atime.UnixMilli())
	}
	if got, ok := out["ctime"].(int64); !ok || got < before || got > after {
		t.Errorf("ctime %v (%T), want between %d and %d", out["ctime"], out["ctime"], before, after)
	}
	if got, ok := out["mode"].(uint32); !ok || got != 0o100644 {
		t.Errorf("mode %v (%T), want 0o100644", out["mode"], out["mode"])
	}
}
