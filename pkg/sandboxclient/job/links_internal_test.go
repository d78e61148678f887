//go:build unix

package job

import (
	"os"
	"path/filepath"
	"testing"
)

// A destination goes through a symlink the run made when the system's
// resolution of it does, name by name: a ".." after the link, a symlink of
// the user's leading to it, and relative paths count; a path that only
// reads like one does not.
func TestCreatedLinksResolveNameByName(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, d := range []string{"out", "victim/sub"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(dir, "victim", "sub"), filepath.Join("out", "logs")); err != nil {
		t.Fatal(err)
	}
	// The user's own links: one to out, one to the link itself.
	if err := os.Symlink("out", "mine"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "out", "logs"), "direct"); err != nil {
		t.Fatal(err)
	}
	links := &createdLinks{}
	links.add(filepath.Join("out", "logs"))
	for p, through := range map[string]bool{
		"out/logs":             true,
		"out/logs/x":           true,
		"out/logs/../x":        true, // victim/x, not out/x
		"out/logs/../../out/x": true,
		"./out/./logs/../r2":   true,
		"out/../out/logs/y":    true,
		"mine/logs/../z":       true, // through the user's link to out
		"direct/../z":          true, // through the user's link to the link
		dir + "/out/logs/../x": true, // absolute, as written
		"out/x":                false,
		"out/logsx/../x":       false,
		"out/sub/../logs2":     false,
		"victim/sub/x":         false, // the target itself, reached without the link
		"mine/x":               false,
	} {
		if got := links.on(filepath.FromSlash(p)); (got != "") != through {
			t.Errorf("on(%q) = %q, want a link: %v", p, got, through)
		}
	}
}
