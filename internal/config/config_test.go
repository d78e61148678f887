package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"

	"github.com/nimbus-sh/nimbus/internal/config"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPrecedence(t *testing.T) {
	dir, user := t.TempDir(), t.TempDir()
	write(t, filepath.Join(user, "nimbus", "config.yaml"), "endpoint: https://user.example\ntenant: user-tenant\nsubject: user-sub\nprofile: user-profile\n")
	write(t, filepath.Join(dir, "nimbus.yaml"), "endpoint: https://project.example\ntenant: project-tenant\nsubject: project-sub\n")
	t.Setenv("NIMBUS_ENDPOINT", "https://env.example")
	t.Setenv("NIMBUS_TENANT", "env-tenant")
	t.Setenv("NIMBUS_SUBJECT", "")
	t.Setenv("NIMBUS_PROFILE", "")
	t.Setenv("NIMBUS_BASE_PATH", "")

	c, err := config.Load(config.Options{Dir: dir, UserConfigDir: user})
	if err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fs.String("endpoint", "", "")
	fs.String("tenant", "", "")
	if err := c.BindFlag("endpoint", fs.Lookup("endpoint")); err != nil {
		t.Fatal(err)
	}
	if err := c.BindFlag("tenant", fs.Lookup("tenant")); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"--endpoint", "https://flag.example"}); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"endpoint":  "https://flag.example", // flag beats everything
		"tenant":    "env-tenant",           // env beats files (flag not set)
		"subject":   "project-sub",          // project file beats user file
		"profile":   "user-profile",         // user file beats default
		"base_path": "/api/nimbus/v1",       // default
	} {
		if got := c.GetString(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if got := c.Files(); len(got) != 2 {
		t.Errorf("files read = %v", got)
	}
}

func TestExplicitConfigFileReplacesDefaults(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "nimbus.yaml"), "endpoint: https://project.example\n")
	explicit := filepath.Join(t.TempDir(), "ci.yaml")
	write(t, explicit, "base_path: /custom\n")
	t.Setenv("NIMBUS_ENDPOINT", "")
	t.Setenv("NIMBUS_BASE_PATH", "")
	c, err := config.Load(config.Options{File: explicit, Dir: dir, UserConfigDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if c.GetString("endpoint") != "" || c.GetString("base_path") != "/custom" {
		t.Errorf("endpoint %q base_path %q", c.GetString("endpoint"), c.GetString("base_path"))
	}
}

func TestBadFiles(t *testing.T) {
	var ife *config.InvalidFileError
	_, err := config.Load(config.Options{File: filepath.Join(t.TempDir(), "missing.yaml")})
	if !errors.As(err, &ife) {
		t.Errorf("missing --config file: %v", err)
	}
	dir := t.TempDir()
	write(t, filepath.Join(dir, "nimbus.yaml"), "endpoint: [unclosed\n")
	_, err = config.Load(config.Options{Dir: dir, UserConfigDir: t.TempDir()})
	if !errors.As(err, &ife) || ife.Path != filepath.Join(dir, "nimbus.yaml") {
		t.Errorf("invalid project file: %v", err)
	}
	// Missing default files are fine.
	if _, err := config.Load(config.Options{Dir: t.TempDir(), UserConfigDir: t.TempDir()}); err != nil {
		t.Errorf("no files: %v", err)
	}
}
