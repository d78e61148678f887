// Package config resolves nimbus settings with one precedence for every
// command: flag > environment variable > ./nimbus.yaml > the user config
// file > default. --config FILE replaces both files.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Keys known to nimbus and the environment variable each one reads.
var envNames = map[string]string{
	"endpoint":   "NIMBUS_ENDPOINT",
	"token":      "NIMBUS_TOKEN",
	"tenant":     "NIMBUS_TENANT",
	"subject":    "NIMBUS_SUBJECT",
	"profile":    "NIMBUS_PROFILE",
	"base_path":  "NIMBUS_BASE_PATH",
	"token_file": "NIMBUS_TOKEN_FILE",
	// write_limit is the single-request write limit of sandbox file
	// transfers; bigger files are split.
	"write_limit": "NIMBUS_WRITE_LIMIT",
}

// Defaults for keys that have one.
var defaults = map[string]string{
	"profile":   "default",
	"base_path": "/api/nimbus/v1",
}

// ProjectFile is the project-level config file, relative to the working
// directory.
const ProjectFile = "nimbus.yaml"

// Options says where to look for files.
type Options struct {
	// File is --config; when set, only this file is read and it must exist.
	File string
	// Dir is the working directory holding the project file.
	Dir string
	// UserConfigDir is the base of the user file ($XDG_CONFIG_HOME);
	// empty means os.UserConfigDir.
	UserConfigDir string
}

// Config is the resolved configuration.
type Config struct {
	v     *viper.Viper
	files []string
}

// InvalidFileError reports a config file that exists but cannot be parsed.
type InvalidFileError struct {
	Path string
	Err  error
}

func (e *InvalidFileError) Error() string { return fmt.Sprintf("config file %s: %v", e.Path, e.Err) }

func (e *InvalidFileError) Unwrap() error { return e.Err }

// Load reads the config files named by opts. Missing default files are
// fine; a missing --config file or an unparsable file is an error.
func Load(opts Options) (*Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	for k, d := range defaults {
		v.SetDefault(k, d)
	}
	for k, env := range envNames {
		if err := v.BindEnv(k, env); err != nil {
			return nil, err
		}
	}
	c := &Config{v: v}
	if opts.File != "" {
		if err := c.merge(opts.File, true); err != nil {
			return nil, err
		}
		return c, nil
	}
	userDir := opts.UserConfigDir
	if userDir == "" {
		userDir, _ = os.UserConfigDir()
	}
	if userDir != "" {
		if err := c.merge(filepath.Join(userDir, "nimbus", "config.yaml"), false); err != nil {
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
	f, err := os.Open(path)
	if err != nil {
		if !required && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return &InvalidFileError{Path: path, Err: err}
	}
	defer f.Close()
	if err := c.v.MergeConfig(f); err != nil {
		return &InvalidFileError{Path: path, Err: errors.New(strings.TrimSpace(err.Error()))}
	}
	c.files = append(c.files, path)
	return nil
}

// BindFlag makes flag the highest-precedence source of key, when the user
// set it.
func (c *Config) BindFlag(key string, flag *pflag.Flag) error {
	return c.v.BindPFlag(key, flag)
}

// GetString returns the resolved value of key.
func (c *Config) GetString(key string) string { return c.v.GetString(key) }

// Files lists the config files that were read, lowest precedence first.
func (c *Config) Files() []string { return c.files }

// EnvName returns the environment variable that sets key, if any.
func EnvName(key string) string { return envNames[key] }
