// Package cmdutil carries what commands depend on, so each command
// constructor can be given real or test dependencies (the GitHub CLI's
// Factory pattern), plus small helpers shared by command wiring.
package cmdutil

import (
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/config"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/iostreams"
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
}

// New returns the production Factory for the current process.
func New() *Factory {
	f := &Factory{
		IOStreams: iostreams.System(),
		Getenv:    os.Getenv,
		Now:       time.Now,
	}
	f.Config = sync.OnceValues(func() (*config.Config, error) {
		dir, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		return config.Load(config.Options{File: f.ConfigFile, Dir: dir})
	})
	f.HTTPClient = func() *http.Client { return nil }
	return f
}

// MachineOutput reports whether stdout should carry machine-readable
// output: with --json, or whenever stdout is not a terminal.
func (f *Factory) MachineOutput() bool { return f.JSON || !f.IOStreams.IsStdoutTTY() }

// LoadConfig returns the configuration, turning a broken config file into
// a configuration error (exit 78) that names the file.
func (f *Factory) LoadConfig() (*config.Config, error) {
	c, err := f.Config()
	if err != nil {
		return nil, clierr.Wrap(err, exitcode.Config, "E_CONFIG_INVALID", err.Error(),
			"fix or remove the file, or pass --config FILE")
	}
	return c, nil
}
