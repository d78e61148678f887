// Package config resolves nimbus settings with one precedence for every
// command: flag > environment variable > ./nimbus.yaml > the user config
// file > default. --config FILE replaces both files.
//
// Keys are matched without regard to case, and "-" and "_" are the same
// ("base-path" is "base_path"). A key nimbus does not know is kept out of
// the settings and reported by Unknown, with the closest known key, so a
// typo is never silently ignored.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/nimbus-sh/nimbus/internal/duration"
	"github.com/nimbus-sh/nimbus/internal/hostpath"
	"github.com/nimbus-sh/nimbus/internal/regularfile"
	suggestpkg "github.com/nimbus-sh/nimbus/internal/suggest"
)

// Key is a setting nimbus knows.
type Key struct {
	// Name is the key as written in a file ("base_path").
	Name string
	// Env is the environment variable that sets it.
	Env string
	// Default applies when nothing else sets the key.
	Default string
	// Path marks a key naming a file: a relative path written in a config
	// file is relative to that file's directory, as a user config file
	// is read from any working directory ("-", standard input, is kept).
	Path bool
}

// Keys are the settings nimbus reads, in the order docs list them.
var Keys = []Key{
	{Name: "endpoint", Env: "NIMBUS_ENDPOINT"},
	{Name: "token", Env: "NIMBUS_TOKEN"},
	{Name: "token_file", Env: "NIMBUS_TOKEN_FILE", Path: true},
	{Name: "tenant", Env: "NIMBUS_TENANT"},
	{Name: "subject", Env: "NIMBUS_SUBJECT"},
	{Name: "profile", Env: "NIMBUS_PROFILE", Default: "default"},
	{Name: "base_path", Env: "NIMBUS_BASE_PATH", Default: "/api/nimbus/v1"},
	// http_timeout bounds connecting to and waiting for the Worker; files
	// may also spell it http-timeout (normalize treats - and _ alike).
	{Name: "http_timeout", Env: "NIMBUS_HTTP_TIMEOUT"},
	// write_limit is the largest single write request of sandbox file
	// transfers; bigger files are split.
	{Name: "write_limit", Env: "NIMBUS_WRITE_LIMIT"},
	// runtime_cache_keep is how many tarballs of each runtime the
	// runtime cache keeps (runtimesync.Cache.Keep).
	{Name: "runtime_cache_keep", Env: "NIMBUS_RUNTIME_CACHE_KEEP"},
}

// ProjectFile is the project-level config file, relative to the working
// directory.
const ProjectFile = "nimbus.yaml"

// localOS is the system whose path rules a path value follows:
// runtime.GOOS, set otherwise only by tests (SetLocalOS) to check the
// Windows rules on any system.
var localOS = runtime.GOOS

// maxFileSize bounds a config file: a wrong --config path (a log, an
// image) fails fast instead of being parsed.
const maxFileSize = 1 << 20

// Options says where to look for files.
type Options struct {
	// File is --config; when set, only this file is read and it must exist.
	File string
	// Dir is the working directory holding the project file.
	Dir string
	// UserConfigDir is the user's config directory (paths.Env.ConfigDir);
	// its nimbus/config.yaml is read. Empty means no user file.
	UserConfigDir string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// Config is the resolved configuration.
type Config struct {
	getenv  func(string) string
	files   []string
	values  map[string]string // from files, later files win
	from    map[string]string // the file each of values came from
	flags   map[string]*pflag.Flag
	unknown []Unknown
	// keys are the files' top-level keys in file order, as written
	// (Inspect's, for one file).
	keys []string
}

// Unknown is a key in a config file that nimbus does not know.
type Unknown struct {
	// File is the config file.
	File string
	// Key is the key as written.
	Key string
	// Suggestion is the closest known key, or "" when none is close.
	Suggestion string
}

// InvalidFileError reports a config file that exists but cannot be used.
type InvalidFileError struct {
	Path string
	Err  error
}

// Error names the file and what is wrong with it.
func (e *InvalidFileError) Error() string { return fmt.Sprintf("config file %s: %v", e.Path, e.Err) }

// Unwrap returns the underlying read or parse error.
func (e *InvalidFileError) Unwrap() error { return e.Err }

// Load reads the config files named by opts. Missing default files are
// fine; a missing --config file or an unparsable file is an error.
func Load(opts Options) (*Config, error) {
	c := &Config{getenv: opts.Getenv, values: map[string]string{}, from: map[string]string{}, flags: map[string]*pflag.Flag{}}
	if c.getenv == nil {
		c.getenv = os.Getenv
	}
	if opts.File != "" {
		return c, c.merge(opts.File, true)
	}
	if opts.UserConfigDir != "" {
		if err := c.merge(filepath.Join(opts.UserConfigDir, "nimbus", "config.yaml"), false); err != nil {
			return nil, err
		}
	}
	if err := c.merge(filepath.Join(opts.Dir, ProjectFile), false); err != nil {
		return nil, err
	}
	return c, nil
}

// merge layers one file over what was read before it.
func (c *Config) merge(path string, required bool) error {
	// A regular file only: opening a named pipe put there would block
	// every command, and a device would be read to the bound.
	data, err := regularfile.ReadFile(path, maxFileSize)
	if err != nil {
		if !required && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		var pe *fs.PathError
		if errors.As(err, &pe) && (errors.Is(err, regularfile.ErrNotRegular) || errors.Is(err, regularfile.ErrTooLarge)) {
			err = pe.Err // the path is InvalidFileError's
		}
		return &InvalidFileError{Path: path, Err: err}
	}
	// Decoded as nodes, not into a map: a value is kept as it is written
	// ("0x10", "1e3", "1_000" stay text for the parsers of each key instead
	// of becoming the numbers YAML reads them as).
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return &InvalidFileError{Path: path, Err: errors.New(strings.TrimPrefix(err.Error(), "yaml: "))}
	}
	var top *yaml.Node
	if len(doc.Content) > 0 {
		top = resolveAlias(doc.Content[0])
	}
	if top != nil && !(top.Kind == yaml.ScalarNode && top.Tag == "!!null") && top.Kind != yaml.MappingNode {
		return &InvalidFileError{Path: path, Err: errors.New("want a map of keys to values (key: value lines)")}
	}
	var unknown []Unknown
	seen := map[string]string{}
	for i := 0; top != nil && top.Kind == yaml.MappingNode && i+1 < len(top.Content); i += 2 {
		kn, vn := resolveAlias(top.Content[i]), resolveAlias(top.Content[i+1])
		c.keys = append(c.keys, top.Content[i].Value)
		if kn.Kind != yaml.ScalarNode {
			return &InvalidFileError{Path: path, Err: fmt.Errorf("line %d: want a plain key", kn.Line)}
		}
		raw := kn.Value
		key := normalize(raw)
		if first, dup := seen[key]; dup {
			return &InvalidFileError{Path: path, Err: fmt.Errorf("line %d: %s repeats %s", kn.Line, raw, first)}
		}
		seen[key] = raw
		if lookup(key) == nil {
			unknown = append(unknown, Unknown{File: path, Key: raw, Suggestion: suggest(key)})
			continue
		}
		switch {
		case vn.Kind == yaml.ScalarNode && vn.Tag == "!!null":
			delete(c.values, key)
			delete(c.from, key)
		case vn.Kind == yaml.ScalarNode:
			v := vn.Value
			if lookup(key).Path && v != "" && v != "-" {
				// Read from the file's directory; hostpath.Join, since
				// on Windows "C:x" and "\x" are not relative to it.
				v = hostpath.Join(localOS, filepath.Dir(path), v)
			}
			c.values[key], c.from[key] = v, path
		default:
			return &InvalidFileError{Path: path, Err: fmt.Errorf("%s: want a single value, not a list or a map", raw)}
		}
	}
	slices.SortFunc(unknown, func(a, b Unknown) int { return strings.Compare(a.Key, b.Key) })
	c.unknown = append(c.unknown, unknown...)
	c.files = append(c.files, path)
	return nil
}

// resolveAlias follows YAML aliases (*name) to the node they name.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	return n
}

// BindFlag makes flag the highest-precedence source of key, when the user
// set it.
func (c *Config) BindFlag(key string, flag *pflag.Flag) error {
	if lookup(normalize(key)) == nil {
		return fmt.Errorf("config: unknown key %q", key)
	}
	if flag == nil {
		return fmt.Errorf("config: no flag for key %q", key)
	}
	c.flags[normalize(key)] = flag
	return nil
}

// GetString returns the resolved value of key: the flag when given, else a
// non-empty environment variable, else the files, else the default.
func (c *Config) GetString(key string) string {
	key = normalize(key)
	k := lookup(key)
	if k == nil {
		return ""
	}
	if fl := c.flags[key]; fl != nil && fl.Changed {
		return fl.Value.String()
	}
	if v := c.getenv(k.Env); v != "" {
		return v
	}
	if v, ok := c.values[key]; ok {
		return v
	}
	return k.Default
}

// GetDuration returns key read with the duration parser every nimbus
// duration uses (a bare number is seconds; 90s, 15m, 1d), checked against
// l. A value that is not set returns ok false; a bad one an error naming
// the key and where it came from.
func (c *Config) GetDuration(key string, l duration.Limits) (d time.Duration, ok bool, err error) {
	v := c.GetString(key)
	if v == "" {
		return 0, false, nil
	}
	d, err = l.Parse(v)
	if err != nil {
		return 0, false, fmt.Errorf("%s %q (%s): %w", normalize(key), v, c.source(normalize(key)), err)
	}
	return d, true, nil
}

// FromFlag reports whether key's value came from a command-line flag: a
// bad value is then the command line's mistake (a usage error), not the
// configuration's.
func (c *Config) FromFlag(key string) bool {
	f := c.flags[normalize(key)]
	return f != nil && f.Changed
}

// Invalid describes key's value as not what was wanted, naming where it
// came from, in the form of GetDuration's errors: `key "value" (source):
// want`.
func (c *Config) Invalid(key, want string) error {
	k := normalize(key)
	return fmt.Errorf("%s %q (%s): %s", k, c.GetString(k), c.source(k), want)
}

// Source says where key's value came from, for error messages: "--flag",
// the environment variable, the config file that set it, or "default".
func (c *Config) Source(key string) string { return c.source(normalize(key)) }

// source says where key's value came from, for error messages.
func (c *Config) source(key string) string {
	k := lookup(key)
	switch {
	case c.flags[key] != nil && c.flags[key].Changed:
		return "--" + c.flags[key].Name
	case k != nil && c.getenv(k.Env) != "":
		return k.Env
	case c.from[key] != "":
		return c.from[key]
	case len(c.files) > 0:
		return strings.Join(c.files, ", ")
	}
	return "default"
}

// Files lists the config files that were read, lowest precedence first.
func (c *Config) Files() []string { return c.files }

// Unknown lists the keys of the files that nimbus does not know, file by
// file, sorted.
func (c *Config) Unknown() []Unknown { return c.unknown }

// EnvName returns the environment variable that sets key, if any.
func EnvName(key string) string {
	if k := lookup(normalize(key)); k != nil {
		return k.Env
	}
	return ""
}

func normalize(key string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(key)), "-", "_")
}

func lookup(key string) *Key {
	for i := range Keys {
		if Keys[i].Name == key {
			return &Keys[i]
		}
	}
	return nil
}

// suggest returns the known key closest to key by edit distance, if it is
// close enough to be a typo (at most a third of the key's length, and at
// most 3 edits).
func suggest(key string) string {
	names := make([]string, len(Keys))
	for i, k := range Keys {
		names[i] = k.Name
	}
	return suggestpkg.Closest(key, names, 3)
}

// FileInfo describes one config file Load would read.
type FileInfo struct {
	Path string
	// Keys are the file's top-level keys in file order, as written.
	Keys []string
	// Unknown are the keys nimbus does not know, with suggestions.
	Unknown []Unknown
	// Err is set when the file exists but cannot be read or parsed.
	Err error
}

// Inspect lists the config files Load reads for opts (lowest precedence
// first), each with its keys. Unlike Load it does not stop at a broken
// file, so `nimbus doctor` can report every one.
func Inspect(opts Options) []FileInfo {
	var paths []string
	if opts.File != "" {
		paths = []string{opts.File}
	} else {
		if opts.UserConfigDir != "" {
			paths = append(paths, filepath.Join(opts.UserConfigDir, "nimbus", "config.yaml"))
		}
		paths = append(paths, filepath.Join(opts.Dir, ProjectFile))
	}
	var out []FileInfo
	for _, p := range paths {
		c := &Config{values: map[string]string{}, from: map[string]string{}}
		if err := c.merge(p, opts.File != ""); err != nil {
			var ife *InvalidFileError
			if errors.As(err, &ife) {
				err = ife.Err // the path is FileInfo's
			}
			out = append(out, FileInfo{Path: p, Err: err})
			continue
		}
		if len(c.files) == 0 {
			continue // a default file that does not exist
		}
		// The keys as merge read them: reading the file again would
		// read what another process may have put there since, unchecked.
		out = append(out, FileInfo{Path: p, Keys: c.keys, Unknown: c.unknown})
	}
	return out
}
