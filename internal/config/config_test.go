package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

func TestInspectListsFilesAndKeys(t *testing.T) {
	dir, user := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(user, "nimbus"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(user, "nimbus", "config.yaml"), []byte("token: x\ntenant: acme\n"), 0o600)
	os.WriteFile(filepath.Join(dir, config.ProjectFile), []byte("# project\nendpoint: https://e\nendpiont: typo\n"), 0o644)
	got := config.Inspect(config.Options{Dir: dir, UserConfigDir: user})
	if len(got) != 2 || got[0].Path != filepath.Join(user, "nimbus", "config.yaml") || strings.Join(got[0].Keys, ",") != "token,tenant" ||
		strings.Join(got[1].Keys, ",") != "endpoint,endpiont" || got[0].Err != nil || got[1].Err != nil {
		t.Fatalf("%+v", got)
	}
	// A broken file is reported, not fatal; a missing default file is not listed.
	os.WriteFile(filepath.Join(dir, config.ProjectFile), []byte("endpoint: [unclosed\n"), 0o644)
	got = config.Inspect(config.Options{Dir: dir, UserConfigDir: t.TempDir()})
	if len(got) != 1 || got[0].Err == nil {
		t.Fatalf("%+v", got)
	}
	os.WriteFile(filepath.Join(dir, config.ProjectFile), []byte("- a list\n"), 0o644)
	if got := config.Inspect(config.Options{Dir: dir, UserConfigDir: t.TempDir()}); len(got) != 1 || got[0].Err == nil {
		t.Fatalf("%+v", got)
	}
	// --config names a file that must exist.
	if got := config.Inspect(config.Options{File: filepath.Join(dir, "none.yaml")}); len(got) != 1 || got[0].Err == nil {
		t.Fatalf("%+v", got)
	}
	if k := config.KnownKeys(); !slices.Contains(k, "endpoint") || !slices.IsSorted(k) {
		t.Fatal(k)
	}
}
