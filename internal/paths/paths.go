// Package paths says where nimbus keeps its files on each operating
// system. It follows os.UserConfigDir and os.UserCacheDir exactly, but
// reads the environment and the OS name it is given, so every platform's
// rules can be tested on any one machine (and commands can be run with a
// test environment).
//
//	file                          Linux and BSDs                        macOS                                     Windows
//	user config                   $XDG_CONFIG_HOME/nimbus/config.yaml   ~/Library/Application Support/nimbus/…    %AppData%\nimbus\config.yaml
//	                              (default ~/.config)
//	generated JWT secrets         <config dir>/nimbus/secrets/<account id>/<worker>.jwt-secret (mode 0600; FileName on Windows)
//	nimbus dev data               $XDG_CACHE_HOME/nimbus/dev            ~/Library/Caches/nimbus/dev               %LocalAppData%\nimbus\dev
//	                              (default ~/.cache; NIMBUS_DEV_DATA overrides everywhere)
//	runtime tarballs              <cache dir>/nimbus/runtimes
//	shell history                 <cache dir>/nimbus/history/<sandbox id> (mode 0600; FileName on Windows)
//	recently used sandboxes       <cache dir>/nimbus/recent-sandboxes (mode 0600; for shell completion)
//	cleanup ledger                $NIMBUS_LEDGER, else $RUNNER_TEMP/nimbus-ledger.jsonl, else <temp dir>/nimbus-ledger-<uid>.jsonl
package paths

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
)

// Env is the environment paths are resolved in.
type Env struct {
	// GOOS is the operating system, as runtime.GOOS names it.
	GOOS string
	// Getenv reads an environment variable.
	Getenv func(string) string
}

// System is the environment of the running process.
func System() Env { return Env{GOOS: runtime.GOOS, Getenv: os.Getenv} }

// Errors for an environment that names no directory.
var (
	ErrNoConfigDir = errors.New("no user config directory: set HOME (XDG_CONFIG_HOME, or AppData on Windows)")
	ErrNoCacheDir  = errors.New("no user cache directory: set HOME (XDG_CACHE_HOME, or LocalAppData on Windows)")
)

// DevDataEnv moves the data directory of `nimbus dev` and `--local`.
const DevDataEnv = "NIMBUS_DEV_DATA"

// ConfigDir is os.UserConfigDir for e.
func (e Env) ConfigDir() (string, error) {
	switch e.GOOS {
	case "windows":
		return nonEmpty(e.Getenv("AppData"), ErrNoConfigDir)
	case "darwin", "ios":
		return homeJoin(e, ErrNoConfigDir, "Library", "Application Support")
	case "plan9":
		return homeJoinVar(e, "home", ErrNoConfigDir, "lib")
	}
	return xdg(e, "XDG_CONFIG_HOME", ErrNoConfigDir, ".config")
}

// CacheDir is os.UserCacheDir for e.
func (e Env) CacheDir() (string, error) {
	switch e.GOOS {
	case "windows":
		return nonEmpty(e.Getenv("LocalAppData"), ErrNoCacheDir)
	case "darwin", "ios":
		return homeJoin(e, ErrNoCacheDir, "Library", "Caches")
	case "plan9":
		return homeJoinVar(e, "home", ErrNoCacheDir, "lib", "cache")
	}
	return xdg(e, "XDG_CACHE_HOME", ErrNoCacheDir, ".cache")
}

// UserConfigFile is the user's config file, read after ./nimbus.yaml.
func (e Env) UserConfigFile() (string, error) {
	dir, err := e.ConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "nimbus", "config.yaml"), nil
}

// SecretDir is where `nimbus setup cloudflare` keeps the JWT_SECRETs it
// generates: nimbus/secrets in the user config directory, one file per
// account and Worker below it (provision.GeneratedSecretFile).
func (e Env) SecretDir() (string, error) {
	dir, err := e.ConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "nimbus", "secrets"), nil
}

// RuntimeCacheDir is where `nimbus runtime sync` keeps verified runtime
// tarballs: nimbus/runtimes in the user cache directory.
func (e Env) RuntimeCacheDir() (string, error) {
	dir, err := e.CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "nimbus", "runtimes"), nil
}

// HistoryFile is where `nimbus sandbox shell` keeps the line history of a
// sandbox: nimbus/history/<id> in the user cache directory, the id made a
// file name of its own by FileName (on Windows "con" would otherwise be
// the console, and "Job" and "job" one file).
func (e Env) HistoryFile(sandboxID string) (string, error) {
	dir, err := e.CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "nimbus", "history", FileName(e.GOOS, sandboxID)), nil
}

// DevDataDir is the data directory of `nimbus dev` and `--local`:
// NIMBUS_DEV_DATA, else nimbus/dev in the user cache directory.
func (e Env) DevDataDir() (string, error) {
	if d := e.Getenv(DevDataEnv); d != "" {
		return d, nil
	}
	dir, err := e.CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "nimbus", "dev"), nil
}

func nonEmpty(dir string, err error) (string, error) {
	if dir == "" {
		return "", err
	}
	return dir, nil
}

func homeJoin(e Env, err error, elem ...string) (string, error) {
	return homeJoinVar(e, "HOME", err, elem...)
}

func homeJoinVar(e Env, home string, err error, elem ...string) (string, error) {
	h := e.Getenv(home)
	if h == "" {
		return "", err
	}
	return filepath.Join(append([]string{h}, elem...)...), nil
}

// xdg is the XDG base directory rule os.User*Dir applies on Unix: the
// variable when it holds an absolute path, an error when it holds a
// relative one, else HOME joined with fallback.
func xdg(e Env, name string, err error, fallback string) (string, error) {
	if dir := e.Getenv(name); dir != "" {
		if !filepath.IsAbs(dir) {
			return "", errors.New(name + " is a relative path")
		}
		return dir, nil
	}
	return homeJoin(e, err, fallback)
}

// RecentIDsFile is the file of sandboxes nimbus's commands used lately,
// which shell completion asks Workers about (internal/recentids):
// nimbus/recent-sandboxes in the user cache directory.
func (e Env) RecentIDsFile() (string, error) {
	dir, err := e.CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "nimbus", "recent-sandboxes"), nil
}
