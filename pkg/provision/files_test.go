package provision_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSymlinkedConfigIsUpdatedThroughTheLink: a wrangler.jsonc or
// nimbus.yaml that is a symlink (a monorepo's shared config, a dotfiles
// checkout) is written where it points; the link stays a link.
func TestSymlinkedConfigIsUpdatedThroughTheLink(t *testing.T) {
	f := newFixture(t)
	shared := t.TempDir()
	for _, p := range []string{f.wrangle, f.yaml} {
		target := filepath.Join(shared, filepath.Base(p))
		data, err := os.ReadFile(p)
		if err != nil {
			data = []byte("# shared\n")
		}
		if err := os.WriteFile(target, data, 0o640); err != nil {
			t.Fatal(err)
		}
		os.Remove(p)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	f.mustRun(f.plan())
	for _, p := range []string{f.wrangle, f.yaml} {
		st, err := os.Lstat(p)
		if err != nil || st.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("%s is no longer a symlink (%v, %v)", p, st.Mode(), err)
		}
		target := filepath.Join(shared, filepath.Base(p))
		data, _ := os.ReadFile(target)
		if !bytes.Contains(data, []byte(acct)) && !bytes.Contains(data, []byte("workers.dev")) {
			t.Fatalf("%s was not updated:\n%s", target, data)
		}
		if st, _ := os.Stat(target); st.Mode().Perm() != 0o640 {
			t.Fatalf("%s mode %v, want 0640", target, st.Mode().Perm())
		}
		ents, _ := os.ReadDir(shared)
		for _, e := range ents {
			if strings.Contains(e.Name(), ".tmp") {
				t.Fatalf("left a temporary file %s", e.Name())
			}
		}
	}
}
