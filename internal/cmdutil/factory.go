// Package cmdutil carries what commands depend on, so each command
// constructor can be given real or test dependencies (the GitHub CLI's
// Factory pattern), plus small helpers shared by command wiring.
package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/config"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/iostreams"
	"github.com/nimbus-sh/nimbus/internal/paths"
	"github.com/nimbus-sh/nimbus/internal/regularfile"
)

// Factory holds the dependencies of commands.
type Factory struct {
	IOStreams *iostreams.IOStreams
	// Getenv reads the environment; tests substitute a map.
	Getenv func(string) string
	// Now is the clock.
	Now func() time.Time
	// Config loads the configuration once, on first use, so commands that
	// need none do not pay for it at start-up.
	Config func() (*config.Config, error)
	// HTTPClient returns the client used for network calls. The default
	// returns nil: each library then builds its own, with its timeouts
	// (dial, TLS, response headers) and TCP keepalive. Tests may return
	// one of theirs.
	HTTPClient func() *http.Client

	// JSON is the global --json flag.
	JSON bool
	// NoColor is the global --no-color flag.
	NoColor bool
	// ConfigFile is the global --config flag.
	ConfigFile string
	// ConfigEmpty is true when --config was given an empty value, which
	// would silently read the default files: the root sets it before the
	// command runs, and loading the configuration refuses it (64).
	ConfigEmpty bool
	warnConfig  sync.Once

	// Interrupts, when set, returns a context cancelled on Ctrl-C or
	// SIGTERM; the root installs it around each command that is not Quick.
	// Main sets it; in-process tests cancel their own context instead.
	Interrupts func(context.Context) (context.Context, context.CancelFunc)

	// CommandPath is the running command ("nimbus token mint"), set by the
	// root before the command runs; it prefixes plain messages.
	CommandPath string
}

// New returns the production Factory for the current process.
func New() *Factory {
	f := &Factory{
		IOStreams: iostreams.System(),
		Getenv:    os.Getenv,
		Now:       time.Now,
	}
	f.Config = sync.OnceValues(func() (*config.Config, error) {
		if err := f.EmptyConfigError(); err != nil {
			return nil, err
		}
		dir, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		user, err := f.Paths().ConfigDir()
		if err != nil && !errors.Is(err, paths.ErrNoConfigDir) && f.ConfigFile == "" {
			// A relative XDG_CONFIG_HOME is a mistake, not the absence of
			// a home: read as "no user file", the user's settings were
			// dropped without a word (docs/files.md calls it an error).
			return nil, clierr.Wrap(err, exitcode.Config, "E_CONFIG_INVALID", "cannot find the user config file: "+err.Error(),
				"set it to an absolute path, or unset it for ~/.config; --config FILE names the file instead")
		}
		// No home at all: no user file.
		return config.Load(config.Options{File: f.ConfigFile, Dir: dir, UserConfigDir: user, Getenv: f.Getenv})
	})
	f.HTTPClient = func() *http.Client { return nil }
	return f
}

// EmptyConfigError is the usage error of --config "" (nil when --config
// names a file or is absent).
func (f *Factory) EmptyConfigError() *clierr.Error {
	if !f.ConfigEmpty {
		return nil
	}
	return clierr.Usagef(`--config "" is empty`).WithHint("name the config file, or leave --config out for ./nimbus.yaml and the user config")
}

// Paths resolves nimbus's files (config, secrets, dev data) for this
// platform in the factory's environment.
func (f *Factory) Paths() paths.Env { return paths.Env{GOOS: runtime.GOOS, Getenv: f.Getenv} }

// MachineOutput reports whether stdout should carry machine-readable
// output: with --json, or whenever stdout is not a terminal.
func (f *Factory) MachineOutput() bool { return f.JSON || !f.IOStreams.IsStdoutTTY() }

// LoadConfig returns the configuration, turning a broken config file into
// a configuration error (exit 78) that names the file, and warning once
// about keys nimbus does not know.
func (f *Factory) LoadConfig() (*config.Config, error) {
	c, err := f.Config()
	var ce *clierr.Error
	if errors.As(err, &ce) {
		return nil, ce
	}
	if err != nil {
		return nil, clierr.Wrap(err, exitcode.Config, "E_CONFIG_INVALID", err.Error(), ConfigHint(err, f.ConfigFile != ""))
	}
	f.warnConfig.Do(func() {
		for _, u := range c.Unknown() {
			w := &clierr.Warning{Code: "W_CONFIG_UNKNOWN_KEY", Message: fmt.Sprintf("%s: unknown key %q", u.File, u.Key)}
			if u.Suggestion != "" {
				w.Message += fmt.Sprintf("; did you mean %q?", u.Suggestion)
				w.Hint = "rename it to " + u.Suggestion
			} else {
				w.Hint = "known keys: " + knownKeys()
			}
			f.Warn(w)
		}
	})
	return c, nil
}

// ConfigHint says what to do about a config file that cannot be used
// (err is why); named is true when the file was given with --config. A
// default file that is missing is no error, so a missing file is always
// --config's path, which has nothing to fix or remove.
func ConfigHint(err error, named bool) string {
	var special *regularfile.NotRegularError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "check the path given to --config: it names no file"
	case errors.Is(err, syscall.EISDIR) || errors.As(err, &special) && special.Mode.IsDir():
		if named {
			return "--config names a directory, not a config file"
		}
		return "move the directory out of the way: nimbus reads this path as a config file"
	case special != nil && named:
		return "--config names " + regularfile.Kind(special.Mode) + ", not a config file"
	case special != nil:
		return "remove it or put a regular file there: nimbus reads this path as a config file"
	case named:
		return "fix the file given to --config, or name another"
	}
	return "fix or remove the file, or pass --config FILE"
}

func knownKeys() string {
	names := make([]string, len(config.Keys))
	for i, k := range config.Keys {
		names[i] = k.Name
	}
	return strings.Join(names, ", ")
}

// Warn writes a warning to stderr in the form the streams and --json call
// for (clierr.RenderWarning). Nothing is written for a nil warning.
func (f *Factory) Warn(w *clierr.Warning) {
	if w == nil {
		return
	}
	clierr.RenderWarning(f.IOStreams.ErrOut, w, clierr.RenderOptions{
		TTY:         f.IOStreams.IsStderrTTY(),
		JSON:        f.JSON,
		CommandPath: f.CommandPath,
		Styles:      f.IOStreams.Styles(),
	})
}
