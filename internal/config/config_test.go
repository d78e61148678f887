package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/nimbus-sh/nimbus/internal/config"
	"github.com/nimbus-sh/nimbus/internal/duration"
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

func TestUnknownKeysAreReportedWithTheClosestKnownKey(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "nimbus.yaml"), "endpont: https://typo.example\nBase-Path: /custom\nTENANT: acme\nfavourite_colour: blue\ntokn_file: x\n")
	c, err := config.Load(config.Options{Dir: dir, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	// Case and '-' versus '_' do not matter.
	if c.GetString("base_path") != "/custom" || c.GetString("tenant") != "acme" {
		t.Errorf("base_path %q tenant %q", c.GetString("base_path"), c.GetString("tenant"))
	}
	if c.GetString("endpoint") != "" {
		t.Errorf("a misspelt key set endpoint: %q", c.GetString("endpoint"))
	}
	got := c.Unknown()
	want := []config.Unknown{
		{File: filepath.Join(dir, "nimbus.yaml"), Key: "endpont", Suggestion: "endpoint"},
		{File: filepath.Join(dir, "nimbus.yaml"), Key: "favourite_colour"},
		{File: filepath.Join(dir, "nimbus.yaml"), Key: "tokn_file", Suggestion: "token_file"},
	}
	if len(got) != len(want) {
		t.Fatalf("unknown = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("unknown[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestValuesAndShapes(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "nimbus.yaml"), "profile: 42\nendpoint: ~\n")
	c, err := config.Load(config.Options{Dir: dir, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if c.GetString("profile") != "42" || c.GetString("endpoint") != "" {
		t.Errorf("profile %q endpoint %q", c.GetString("profile"), c.GetString("endpoint"))
	}
	write(t, filepath.Join(dir, "nimbus.yaml"), "endpoint:\n  url: x\n")
	var ife *config.InvalidFileError
	if _, err := config.Load(config.Options{Dir: dir}); !errors.As(err, &ife) || !strings.Contains(err.Error(), "endpoint: want a single value") {
		t.Errorf("a map value: %v", err)
	}
	write(t, filepath.Join(dir, "nimbus.yaml"), "- a list\n")
	if _, err := config.Load(config.Options{Dir: dir}); !errors.As(err, &ife) {
		t.Errorf("a list document: %v", err)
	}
	write(t, filepath.Join(dir, "nimbus.yaml"), "tenant: a\nTenant: b\n")
	if _, err := config.Load(config.Options{Dir: dir}); !errors.As(err, &ife) || !strings.Contains(err.Error(), "line 2: Tenant repeats tenant") {
		t.Errorf("a repeated key: %v", err)
	}
	// Anchors and aliases resolve; an empty or comment-only file is no settings.
	write(t, filepath.Join(dir, "nimbus.yaml"), "tenant: &t acme\nprofile: *t\n")
	c, err = config.Load(config.Options{Dir: dir, Getenv: func(string) string { return "" }})
	if err != nil || c.GetString("profile") != "acme" {
		t.Errorf("alias: %v %q", err, c.GetString("profile"))
	}
	write(t, filepath.Join(dir, "nimbus.yaml"), "# nothing yet\n")
	if _, err := config.Load(config.Options{Dir: dir}); err != nil {
		t.Errorf("comment-only file: %v", err)
	}
}

// TestDurationKeysUseTheDurationParser: a duration key reads like every
// duration flag (bare seconds, Go durations, days) and names its source
// when it is wrong.
func TestDurationKeysUseTheDurationParser(t *testing.T) {
	config.Keys = append(config.Keys, config.Key{Name: "test_timeout", Env: "NIMBUS_TEST_TIMEOUT"})
	defer func() { config.Keys = config.Keys[:len(config.Keys)-1] }()
	dir := t.TempDir()
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	for _, c := range []struct {
		file, env string
		want      time.Duration
		err       string
	}{
		{"test_timeout: 30\n", "", 30 * time.Second, ""},
		{"test_timeout: 1.5\n", "", 1500 * time.Millisecond, ""},
		{"test-timeout: 1d\n", "", 24 * time.Hour, ""},
		{"test_timeout: 90s\n", "2m", 2 * time.Minute, ""},
		{"test_timeout: -5\n", "", 0, `test_timeout "-5" (` + filepath.Join(dir, "nimbus.yaml") + `): must not be negative`},
		{"", "0x10", 0, `test_timeout "0x10" (NIMBUS_TEST_TIMEOUT): not a duration`},
		// YAML reads these as numbers; the file's text is what counts.
		{"test_timeout: 0x10\n", "", 0, `test_timeout "0x10" (` + filepath.Join(dir, "nimbus.yaml") + `): not a duration`},
		{"test_timeout: 0o20\n", "", 0, `test_timeout "0o20" (` + filepath.Join(dir, "nimbus.yaml") + `): not a duration`},
		{"test_timeout: 1_0\n", "", 0, `test_timeout "1_0" (` + filepath.Join(dir, "nimbus.yaml") + `): not a duration`},
		{"test_timeout: \"45\"\n", "", 45 * time.Second, ""},
	} {
		write(t, filepath.Join(dir, "nimbus.yaml"), c.file)
		env["NIMBUS_TEST_TIMEOUT"] = c.env
		cfg, err := config.Load(config.Options{Dir: dir, Getenv: getenv})
		if err != nil {
			t.Fatal(err)
		}
		d, ok, err := cfg.GetDuration("test_timeout", duration.Limits{})
		if c.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), c.err) {
				t.Errorf("%q/%q: %v, want %q", c.file, c.env, err, c.err)
			}
			continue
		}
		if err != nil || !ok || d != c.want {
			t.Errorf("%q/%q: %v %v %v, want %v", c.file, c.env, d, ok, err, c.want)
		}
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
	if u := got[1].Unknown; len(u) != 1 || u[0].Key != "endpiont" || u[0].Suggestion != "endpoint" {
		t.Fatalf("unknown %+v", u)
	}
	// A broken file is reported, not fatal; a missing default file is not listed.
	os.WriteFile(filepath.Join(dir, config.ProjectFile), []byte("endpoint: [unclosed\n"), 0o644)
	got = config.Inspect(config.Options{Dir: dir})
	if len(got) != 1 || got[0].Err == nil {
		t.Fatalf("%+v", got)
	}
	// --config names a file that must exist.
	if got := config.Inspect(config.Options{File: filepath.Join(dir, "none.yaml")}); len(got) != 1 || got[0].Err == nil {
		t.Fatalf("%+v", got)
	}
}

// A relative token_file is relative to the config file that names it (a
// user config file is read from any directory); an absolute one and "-"
// stay as written, and the environment's stays relative to the working
// directory.
func TestTokenFileRelativeToItsConfigFile(t *testing.T) {
	dir, user := t.TempDir(), t.TempDir()
	t.Setenv("NIMBUS_TOKEN_FILE", "")
	for _, tc := range []struct{ written, want string }{
		{"ci.token", filepath.Join(user, "nimbus", "ci.token")},
		{"../shared/ci.token", filepath.Join(user, "shared", "ci.token")},
		{filepath.Join(dir, "abs.token"), filepath.Join(dir, "abs.token")},
		{"-", "-"},
	} {
		write(t, filepath.Join(user, "nimbus", "config.yaml"), "token_file: \""+tc.written+"\"\n")
		c, err := config.Load(config.Options{Dir: dir, UserConfigDir: user})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.GetString("token_file"); got != tc.want {
			t.Errorf("token_file: %s read as %q, want %q", tc.written, got, tc.want)
		}
	}
	t.Setenv("NIMBUS_TOKEN_FILE", "env.token")
	c, err := config.Load(config.Options{Dir: dir, UserConfigDir: user})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.GetString("token_file"); got != "env.token" {
		t.Errorf("NIMBUS_TOKEN_FILE=env.token read as %q", got)
	}
}

// On Windows (its rules applied here by SetLocalOS) a token_file with a
// drive, a share or a root is not relative to the config file's
// directory: filepath.IsAbs then Join made "C:\ci.token" (not absolute by
// this system's rules) and "\ci.token" names below it, and on Windows
// "C:ci.token" became "D:\cfg\C:ci.token".
func TestTokenFileWithWindowsVolume(t *testing.T) {
	config.SetLocalOS(t, "windows")
	dir, user := t.TempDir(), t.TempDir()
	t.Setenv("NIMBUS_TOKEN_FILE", "")
	for _, written := range []string{`C:\ci.token`, `C:/ci.token`, `C:ci.token`, `\\host\share\ci.token`, `\ci.token`} {
		write(t, filepath.Join(user, "nimbus", "config.yaml"), "token_file: '"+written+"'\n")
		c, err := config.Load(config.Options{Dir: dir, UserConfigDir: user})
		if err != nil {
			t.Fatal(err)
		}
		// The directory has no volume here (a path of this system), so
		// each stays as written.
		if got := c.GetString("token_file"); got != written {
			t.Errorf("token_file: %s read as %q", written, got)
		}
	}
}
