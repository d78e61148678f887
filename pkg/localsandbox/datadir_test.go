//go:build unix

package localsandbox_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
)

// TestDataDirOthersCanChangeIsRefused: a data directory another user
// could change under the server (writable by others, inside a directory
// anyone may write without the sticky bit, or another user's) is refused
// before anything is served from it: whoever can write there could
// replace a sandbox's directory with a symlink to this user's files, or
// plant a .bashrc in a sandbox's home for the terminal to run as this
// user. A private directory, also one under a sticky /tmp, is fine.
func TestDataDirOthersCanChangeIsRefused(t *testing.T) {
	newWith := func(dir string) error {
		s, err := localsandbox.New(localsandbox.Options{DataDir: dir, Secret: secret})
		if err == nil {
			_ = s.Close()
		}
		return err
	}
	refused := func(t *testing.T, dir, want string) {
		t.Helper()
		err := newWith(dir)
		var le *localsandbox.Error
		if !errors.As(err, &le) || le.Code != localsandbox.CodeConfig || !strings.Contains(err.Error(), want) {
			t.Fatalf("New(%s) = %v; want %s naming %q", dir, err, localsandbox.CodeConfig, want)
		}
	}
	t.Run("private", func(t *testing.T) {
		if err := newWith(filepath.Join(t.TempDir(), "data")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("writable by others", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		refused(t, dir, "others can write")
	})
	t.Run("sandboxes writable by others", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "sandboxes"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, "sandboxes"), 0o777); err != nil {
			t.Fatal(err)
		}
		refused(t, dir, "others can write")
	})
	t.Run("in a directory anyone can write", func(t *testing.T) {
		shared := t.TempDir()
		if err := os.Chmod(shared, 0o777); err != nil {
			t.Fatal(err)
		}
		refused(t, filepath.Join(shared, "data"), "anyone can write its parent")
	})
	t.Run("a symlink into a directory anyone can write", func(t *testing.T) {
		shared := t.TempDir()
		if err := os.Mkdir(filepath.Join(shared, "data"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(shared, 0o777); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(t.TempDir(), "link")
		if err := os.Symlink(filepath.Join(shared, "data"), link); err != nil {
			t.Fatal(err)
		}
		refused(t, link, "anyone can write its parent")
	})
	if os.Geteuid() == 0 {
		// Only root can give a directory away.
		t.Run("another user's", func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Chown(dir, 65534, 65534); err != nil {
				t.Fatal(err)
			}
			refused(t, dir, "belongs to user 65534")
		})
	}
}
