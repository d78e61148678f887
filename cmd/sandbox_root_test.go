//go:build unix

package cmd_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
)

// rootArgs are arguments each sandbox command accepts (its Args check
// passes), so that what refuses the run is --root and nothing before it.
// The commands that pass a remote exit code through (rootExecFailed)
// exit 125 for it (docs/exit-codes.md), the others 64.
var rootArgs = map[string][]string{
	"nimbus sandbox exec":             {"job-1", "--", "true"},
	"nimbus sandbox run-code":         {"job-1", "--language", "shell", "true"},
	"nimbus sandbox files ls":         {"job-1"},
	"nimbus sandbox files read":       {"job-1", "a.txt"},
	"nimbus sandbox files write":      {"job-1", "a.txt", "--from", "local.txt"},
	"nimbus sandbox files stat":       {"job-1", "a.txt"},
	"nimbus sandbox files mkdir":      {"job-1", "d"},
	"nimbus sandbox files rm":         {"job-1", "a.txt"},
	"nimbus sandbox cp":               {"local.txt", "job-1:b.txt"},
	"nimbus sandbox sync":             {"tree", "job-1:synced"},
	"nimbus sandbox run":              {"--id", "job-1", "--", "true"},
	"nimbus sandbox runtimes list":    {"job-1"},
	"nimbus sandbox runtimes install": {"job-1", "python"},
	"nimbus sandbox runtimes ensure":  {"job-1", "python"},
	"nimbus sandbox ps":               {"job-1"},
	"nimbus sandbox logs":             {"job-1", "7"},
	"nimbus sandbox kill":             {"job-1", "7"},
	"nimbus sandbox start":            {"job-1", "--", "sleep", "1"},
	"nimbus sandbox ports expose":     {"job-1", "3000"},
	"nimbus sandbox ports list":       {"job-1"},
	"nimbus sandbox ports unexpose":   {"job-1", "3000"},
	"nimbus sandbox ports wait":       {"job-1", "3000"},
	"nimbus sandbox ready":            {"job-1"},
	"nimbus sandbox destroy":          {"job-1"},
	"nimbus sandbox shell":            {"job-1"},
	"nimbus sandbox forward":          {"job-1", "3000"},
	"nimbus sandbox apps list":        {"job-1"},
	"nimbus sandbox apps expose":      {"job-1", "3000"},
	"nimbus sandbox apps remove":      {"job-1", "port:3000"},
	"nimbus sandbox apps rotate":      {"job-1", "port:3000"},
	"nimbus sandbox attach":           {"job-1", "7"},
}

var rootExecFailed = map[string]bool{
	"nimbus sandbox exec": true, "nimbus sandbox run-code": true, "nimbus sandbox run": true,
	"nimbus sandbox shell": true, "nimbus sandbox attach": true,
}

// TestEverySandboxCommandChecksRoot (unix, as TestJSONEverywhere: the
// local backend needs a POSIX shell) walks the whole sandbox group, so a
// command added later is held to it too: every command that runs
// refuses a --root that is no absolute sandbox path with a usage error
// (64; 125 where the command passes a remote exit code through) before it
// sends anything, remote or --local. Each used to check
// it where it built its sandbox handle, and forward, ports expose, apps
// with --preview-host-suffix and destroy --ledger, which built theirs
// another way, sent it as given until each was given a check of its own.
// The check is the group's PersistentPreRunE, and cobra runs only the
// nearest one: a command or subgroup that defined its own (or a
// PersistentPreRun) would skip it, and fails here.
func TestEverySandboxCommandChecksRoot(t *testing.T) {
	worker, hits := unexpectedWorker(t)
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "local.txt"), []byte("hello\n"), 0o644)
	os.MkdirAll(filepath.Join(work, "tree"), 0o755)
	env := append(sandboxEnv(work), "NIMBUS_ENDPOINT="+worker, "NIMBUS_TOKEN=tok")

	check := func(argv []string, want int) {
		t.Helper()
		code, stdout, stderr := runJSON(t, work, env, argv...)
		if code != want || len(stdout) != 0 || !strings.Contains(string(stderr), `--root "app" is not an absolute sandbox path`) {
			t.Errorf("nimbus %s: exit %d, stdout %q, stderr %s; want %d and the --root error", strings.Join(argv, " "), code, stdout, stderr, want)
		}
	}
	root := cmd.NewRootCmd(cmdutil.New())
	seen := 0
	forEachLeaf(root, func(c *cobra.Command) {
		path := c.CommandPath()
		if !strings.HasPrefix(path, "nimbus sandbox ") {
			return
		}
		seen++
		args, ok := rootArgs[path]
		if !ok {
			t.Errorf("%s has no case in rootArgs", path)
			return
		}
		want := 64
		if rootExecFailed[path] {
			want = 125
		}
		words := strings.Fields(strings.TrimPrefix(path, "nimbus "))
		for _, extra := range [][]string{{"--root", "app"}, {"--root", "app", "--local"}} {
			argv := append(append(append([]string{}, words...), extra...), args...)
			check(argv, want)
		}
		if path == "nimbus sandbox logs" {
			// Following passes the process's exit code through.
			check(append(append(words, "--root", "app", "-f"), args...), 125)
		}
	})
	if seen < 25 {
		t.Errorf("found only %d sandbox commands; is the walk broken?", seen)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the Worker was sent %d request(s)", n)
	}
	if _, err := os.Stat(filepath.Join(work, "dev")); err == nil {
		t.Errorf("the local backend made its data directory")
	}
}

// unexpectedWorker is a Worker no request should reach: it answers each
// 418 and counts them in hits. It is closed when the test ends.
func unexpectedWorker(t *testing.T) (url string, hits *atomic.Int64) {
	hits = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "no request was expected", http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, hits
}

// sandboxEnv is the environment of a sandbox command run in work: PATH
// (the test binary's nimbus), HOME and the config and local backend's
// data directories inside work, nothing else.
func sandboxEnv(work string) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + work, "XDG_CONFIG_HOME=" + filepath.Join(work, ".config"),
		"NIMBUS_DEV_DATA=" + filepath.Join(work, "dev")}
}
