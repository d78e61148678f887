package paths

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func env(goos string, vars map[string]string) Env {
	return Env{GOOS: goos, Getenv: func(k string) string { return vars[k] }}
}

// TestPathsPerGOOS resolves every file for Linux, macOS and Windows (and
// the BSDs' Unix rule) from a fake environment, on whatever machine runs
// the test.
func TestPathsPerGOOS(t *testing.T) {
	j := filepath.Join
	for _, c := range []struct {
		name               string
		e                  Env
		config, cache, dev string
	}{
		{"linux", env("linux", map[string]string{"HOME": "/home/u"}),
			"/home/u/.config", "/home/u/.cache", "/home/u/.cache/nimbus/dev"},
		{"linux XDG", env("linux", map[string]string{"HOME": "/home/u", "XDG_CONFIG_HOME": "/cfg", "XDG_CACHE_HOME": "/cache"}),
			"/cfg", "/cache", "/cache/nimbus/dev"},
		{"freebsd", env("freebsd", map[string]string{"HOME": "/usr/home/u"}),
			"/usr/home/u/.config", "/usr/home/u/.cache", "/usr/home/u/.cache/nimbus/dev"},
		{"darwin", env("darwin", map[string]string{"HOME": "/Users/u", "XDG_CONFIG_HOME": "/ignored"}),
			j("/Users/u", "Library", "Application Support"), j("/Users/u", "Library", "Caches"), j("/Users/u", "Library", "Caches", "nimbus", "dev")},
		{"windows", env("windows", map[string]string{"AppData": `C:\Users\u\AppData\Roaming`, "LocalAppData": `C:\Users\u\AppData\Local`, "HOME": "/ignored"}),
			`C:\Users\u\AppData\Roaming`, `C:\Users\u\AppData\Local`, j(`C:\Users\u\AppData\Local`, "nimbus", "dev")},
		{"dev data override", env("windows", map[string]string{"AppData": `C:\R`, "LocalAppData": `C:\L`, DevDataEnv: `D:\sandboxes`}),
			`C:\R`, `C:\L`, `D:\sandboxes`},
	} {
		t.Run(c.name, func(t *testing.T) {
			config, err := c.e.ConfigDir()
			if err != nil || config != c.config {
				t.Errorf("ConfigDir = %q, %v; want %q", config, err, c.config)
			}
			cache, err := c.e.CacheDir()
			if err != nil || cache != c.cache {
				t.Errorf("CacheDir = %q, %v; want %q", cache, err, c.cache)
			}
			if dev, err := c.e.DevDataDir(); err != nil || dev != c.dev {
				t.Errorf("DevDataDir = %q, %v; want %q", dev, err, c.dev)
			}
			if f, err := c.e.UserConfigFile(); err != nil || f != j(c.config, "nimbus", "config.yaml") {
				t.Errorf("UserConfigFile = %q, %v", f, err)
			}
			if d, err := c.e.SecretDir(); err != nil || d != j(c.config, "nimbus", "secrets") {
				t.Errorf("SecretDir = %q, %v", d, err)
			}
			if d, err := c.e.RuntimeCacheDir(); err != nil || d != j(c.cache, "nimbus", "runtimes") {
				t.Errorf("RuntimeCacheDir = %q, %v", d, err)
			}
		})
	}
}

func TestPathsWithoutHome(t *testing.T) {
	for _, goos := range []string{"linux", "darwin", "windows"} {
		e := env(goos, nil)
		if _, err := e.ConfigDir(); err != ErrNoConfigDir {
			t.Errorf("%s ConfigDir: %v", goos, err)
		}
		if _, err := e.DevDataDir(); err != ErrNoCacheDir {
			t.Errorf("%s DevDataDir: %v", goos, err)
		}
	}
	if _, err := env("linux", map[string]string{"HOME": "/h", "XDG_CONFIG_HOME": "rel"}).ConfigDir(); err == nil {
		t.Error("a relative XDG_CONFIG_HOME was accepted")
	}
}

// TestPathsMatchTheStandardLibrary: on the machine running the test, the
// answers are os.UserConfigDir's and os.UserCacheDir's, whatever the
// environment says.
func TestPathsMatchTheStandardLibrary(t *testing.T) {
	for _, vars := range []map[string]string{
		{"HOME": "/home/t"},
		{"HOME": "/home/t", "XDG_CONFIG_HOME": "/x/cfg", "XDG_CACHE_HOME": "/x/cache"},
		{"HOME": "/home/t", "XDG_CONFIG_HOME": "relative"},
		{"HOME": "", "AppData": `C:\A`, "LocalAppData": `C:\L`},
	} {
		for k, v := range vars {
			t.Setenv(k, v)
		}
		got, gotErr := System().ConfigDir()
		want, wantErr := os.UserConfigDir()
		if got != want || (gotErr == nil) != (wantErr == nil) {
			t.Errorf("%s %v: ConfigDir %q, %v; os.UserConfigDir %q, %v", runtime.GOOS, vars, got, gotErr, want, wantErr)
		}
		got, gotErr = System().CacheDir()
		want, wantErr = os.UserCacheDir()
		if got != want || (gotErr == nil) != (wantErr == nil) {
			t.Errorf("%s %v: CacheDir %q, %v; os.UserCacheDir %q, %v", runtime.GOOS, vars, got, gotErr, want, wantErr)
		}
	}
}

func TestHistoryFile(t *testing.T) {
	for goos, want := range map[string]string{
		"linux":   "/x/cache/nimbus/history/job-1",
		"darwin":  "/home/u/Library/Caches/nimbus/history/job-1",
		"windows": "/lad/nimbus/history/job-1",
	} {
		got, err := env(goos, map[string]string{"HOME": "/home/u", "XDG_CACHE_HOME": "/x/cache", "LocalAppData": "/lad"}).HistoryFile("job-1")
		if err != nil || filepath.ToSlash(got) != want {
			t.Errorf("%s: %q %v, want %q", goos, got, err, want)
		}
	}
	if _, err := env("linux", nil).HistoryFile("job-1"); err == nil {
		t.Error("no home: no error")
	}
}

func TestLedgerFile(t *testing.T) {
	env := map[string]string{"TMPDIR": "/var/tmp"}
	e := Env{GOOS: "linux", Getenv: func(k string) string { return env[k] }}
	if p := e.LedgerFile(); filepath.Dir(p) != "/var/tmp" || !strings.HasPrefix(filepath.Base(p), "nimbus-ledger") {
		t.Fatal(p)
	}
	delete(env, "TMPDIR")
	if p := e.LedgerFile(); filepath.Dir(p) != "/tmp" {
		t.Fatal(p)
	}
	env["RUNNER_TEMP"] = "/runner/tmp"
	if p := e.LedgerFile(); p != "/runner/tmp/nimbus-ledger.jsonl" {
		t.Fatal(p)
	}
	env[LedgerEnv] = "/x/ledger"
	if p := e.LedgerFile(); p != "/x/ledger" {
		t.Fatal(p)
	}
	w := Env{GOOS: "windows", Getenv: func(k string) string { return map[string]string{"TEMP": `C:\t`}[k] }}
	if p := w.LedgerFile(); !strings.HasPrefix(p, `C:\t`) {
		t.Fatal(p)
	}
}

// TestFileName: on Windows (its rules applied here on any system) every
// valid id gets a file of its own: no device, no two ids that Windows
// would take for one name (case folded, trailing dots dropped), and the
// name can be read back. Elsewhere names stay as they are, "." and ".."
// apart, so existing files stay where they are.
func TestFileName(t *testing.T) {
	for _, c := range []struct{ goos, name, want string }{
		{"windows", "job-1", "job-1"},
		{"windows", "nimble-otter-4271", "nimble-otter-4271"},
		{"windows", "con", "con+"},
		{"windows", "nul", "nul+"},
		{"windows", "aux", "aux+"},
		{"windows", "prn", "prn+"},
		{"windows", "com1", "com1+"},
		{"windows", "lpt1", "lpt1+"},
		{"windows", "com0", "com0+"},
		{"windows", "con.jwt-secret", "con+.jwt-secret"},
		{"windows", "nul.", "nul+.+"},
		{"windows", "CON", "+c+o+n"},
		{"windows", "Job", "+job"},
		{"windows", "a.", "a.+"},
		{"windows", ".", ".+"},
		{"windows", "..", "..+"},
		{"windows", "comx", "comx"},
		{"windows", "com10", "com10"},
		{"windows", "console", "console"},
		{"linux", "con", "con"},
		{"linux", "Job", "Job"},
		{"linux", "a.", "a."},
		{"linux", "..", "..+"},
		{"darwin", ".", ".+"},
	} {
		if got := FileName(c.goos, c.name); got != c.want {
			t.Errorf("FileName(%s, %q) = %q, want %q", c.goos, c.name, got, c.want)
		}
	}

	ids := []string{"con", "CON", "Con", "con.", "con..", "nul", "nul.txt", "NUL.txt", "aux", "com1", "COM1", "lpt9",
		"job", "Job", "JOB", "job.", "job..", "a.b", "A.b", "a.B", ".", "..", "...", "_", "-", "a_b", "a-b", "x.y.z"}
	seen := map[string]string{}
	for _, id := range ids {
		f := FileName("windows", id)
		if back := fromFileName(f); back != id {
			t.Errorf("FileName(windows, %q) = %q reads back as %q", id, f, back)
		}
		stem, _, _ := strings.Cut(f, ".")
		if windowsDevice(stem) || strings.HasSuffix(f, ".") || f == "." || f == ".." {
			t.Errorf("FileName(windows, %q) = %q is not a plain Windows file name", id, f)
		}
		same := strings.ToLower(strings.TrimRight(f, ". "))
		if other, ok := seen[same]; ok {
			t.Errorf("ids %q and %q share the Windows file %q", other, id, f)
		}
		seen[same] = id
	}
}

// fromFileName reverses FileName on Windows, as its doc comment says.
func fromFileName(f string) string {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '+' {
			b.WriteByte(f[i])
			continue
		}
		if i+1 < len(f) && f[i+1] >= 'a' && f[i+1] <= 'z' {
			i++
			b.WriteByte(f[i] - ('a' - 'A'))
		}
	}
	return b.String()
}

func TestHistoryFileIsAFileOfItsOwn(t *testing.T) {
	e := env("windows", map[string]string{"LocalAppData": `C:\L`})
	for id, want := range map[string]string{"con": "con+", "Job": "+job", "job": "job", "a.": "a.+"} {
		got, err := e.HistoryFile(id)
		if err != nil || !strings.HasSuffix(filepath.ToSlash(got), "/history/"+want) {
			t.Errorf("windows HistoryFile(%q) = %q, %v; want a file named %q", id, got, err, want)
		}
	}
	got, _ := env("linux", map[string]string{"HOME": "/h"}).HistoryFile("Job")
	if got != filepath.Join("/h", ".cache", "nimbus", "history", "Job") {
		t.Errorf("linux HistoryFile(Job) = %q: existing files would move", got)
	}
	if got, _ := env("linux", map[string]string{"HOME": "/h"}).HistoryFile(".."); got != filepath.Join("/h", ".cache", "nimbus", "history", "..+") {
		t.Errorf("linux HistoryFile(..) = %q, not a file in the history directory", got)
	}
}
