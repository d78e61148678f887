package cmdutil

import (
	"path/filepath"
	"runtime"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
)

// UserCacheDir returns the user cache directory, read through getenv (so
// tests can move it): ~/Library/Caches on macOS, else XDG_CACHE_HOME when
// it is absolute, else ~/.cache. Without a home it fails with exit 78 and
// a hint that names what to set (hint, added to the standard one).
func UserCacheDir(getenv func(string) string, what, hint string) (string, error) {
	var base string
	switch runtime.GOOS {
	case "darwin", "ios":
		if h := getenv("HOME"); h != "" {
			base = filepath.Join(h, "Library", "Caches")
		}
	case "windows":
		base = getenv("LocalAppData")
	default:
		base = getenv("XDG_CACHE_HOME")
		if base == "" || !filepath.IsAbs(base) {
			base = ""
			if h := getenv("HOME"); h != "" {
				base = filepath.Join(h, ".cache")
			}
		}
	}
	if base == "" {
		h := "set HOME or XDG_CACHE_HOME"
		if hint != "" {
			h += ", or " + hint
		}
		return "", clierr.New(exitcode.Config, clierr.CodeConfigMissing, "cannot find a user cache directory for "+what, h)
	}
	return base, nil
}
