//go:build unix

package cmd_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
)

// jsonCase runs one command with --json. ndjson marks the streams (one
// object per line); passThrough marks a command that exits with a remote
// process's non-zero code, which is not an error of nimbus's.
type jsonCase struct {
	args        []string
	ndjson      bool
	passThrough bool
	stdin       string
}

// jsonExempt are the runnable commands this test does not run, and why.
var jsonExempt = map[string]string{
	"nimbus dev":                 "serves until interrupted; its {endpoint,dataDir} line is in testdata/dev/serve.txtar",
	"nimbus setup cloudflare":    "needs the Cloudflare API; its JSON line is in testdata/setup",
	"nimbus runtime list":        "needs the Cloudflare API; its JSON is in testdata/runtime/list_pin.txtar",
	"nimbus runtime sync":        "needs the Cloudflare API and the npm registry; its JSON is in testdata/runtime",
	"nimbus sandbox forward":     "serves until interrupted; its NDJSON lines are in testdata/dev/forward.txtar",
	"nimbus sandbox ports wait":  "needs a server listening in the sandbox; its --json answer is in testdata/dev/forward.txtar",
	"nimbus sandbox apps expose": "needs a server listening in the sandbox; its JSON in a pipe is in testdata/dev/apps.txtar",
	"nimbus sandbox apps remove": "needs a server listening in the sandbox; its JSON in a pipe is in testdata/dev/apps.txtar",
	"nimbus session attach":      "stdout is the remote terminal's bytes, not JSON; --json only silences its notices (errors are JSON on stderr, checked by the flag-error case)",
}

// TestJSONEverywhere (not on Windows: the local backend needs a POSIX
// shell) holds every command to the --json promise (README,
// issue 15): on success stdout is one JSON document (NDJSON for the
// streams of exec and logs -f), compact in a pipe; stderr carries only
// JSON objects; and any error, even one the flag parser finds, is one JSON
// object {"error","code","hint"} on stderr. It walks the command tree, so
// a new command fails here until it has a case.
func TestJSONEverywhere(t *testing.T) {
	work := t.TempDir()
	dev := startDevServer(t, devOptions{InProcess: true})
	os.WriteFile(filepath.Join(work, "local.txt"), []byte("hello\n"), 0o644)
	os.MkdirAll(filepath.Join(work, "tree"), 0o755)
	os.WriteFile(filepath.Join(work, "tree", "x.txt"), []byte("x\n"), 0o644)
	ledgerPath := filepath.Join(work, "ledger.jsonl")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + work, "XDG_CONFIG_HOME=" + filepath.Join(work, ".config"),
		"NIMBUS_ENDPOINT=" + dev.URL, "JWT_SECRET=" + devSecret, "NIMBUS_TENANT=acme", "NIMBUS_DEV_DATA=" + filepath.Join(work, "dev"),
		// sandbox run records its sandbox in the cleanup ledger: the test's
		// own, not the developer's (the default is in /tmp, shared with real
		// use, where a test's entry made a later 'destroy --ledger' fail).
		"TMPDIR=" + work, "NIMBUS_LEDGER=" + ledgerPath}

	tok := strings.TrimSpace(string(mustRun(t, work, env, "token", "mint", "--tenant", "acme")))
	steps := []jsonCase{
		{args: []string{"version"}},
		{args: []string{"token", "secret"}},
		{args: []string{"token", "mint", "--tenant", "acme"}},
		{args: []string{"token", "verify", tok}},
		{args: []string{"token", "inspect", tok}},
		{args: []string{"init", "proj", "--dry-run"}},
		{args: []string{"dev", "token"}},
		{args: []string{"session", "new"}},
		{args: []string{"session", "url", "--endpoint", dev.URL, "--session", "demo"}},
		{args: []string{"sandbox", "ready", "demo"}},
		{args: []string{"sandbox", "files", "write", "demo", "a.txt", "--from", "local.txt"}},
		{args: []string{"sandbox", "files", "read", "demo", "a.txt"}},
		{args: []string{"sandbox", "files", "ls", "demo"}},
		{args: []string{"sandbox", "files", "stat", "demo", "a.txt"}},
		{args: []string{"sandbox", "files", "mkdir", "demo", "d"}},
		{args: []string{"sandbox", "cp", "local.txt", "demo:d/b.txt"}},
		{args: []string{"sandbox", "sync", "tree", "demo:synced"}},
		{args: []string{"sandbox", "run", "--id", "run-json", "--upload", "tree", "--", "cat", "x.txt"}, ndjson: true},
		{args: []string{"sandbox", "files", "rm", "demo", "a.txt"}},
		{args: []string{"sandbox", "exec", "demo", "--", "echo", "hi"}, ndjson: true},
		{args: []string{"sandbox", "run-code", "demo", "--language", "shell", "echo hi"}},
		{args: []string{"sandbox", "start", "demo", "--", "sleep", "30"}},
		{args: []string{"sandbox", "ps", "demo"}},
		{args: []string{"sandbox", "logs", "demo", "{pid}"}},
		{args: []string{"sandbox", "kill", "demo", "{pid}"}},
		{args: []string{"sandbox", "logs", "demo", "{pid}", "-f"}, ndjson: true, passThrough: true}, // killed
		{args: []string{"sandbox", "attach", "demo", "{pid}", "--no-stdin"}, ndjson: true, passThrough: true},
		{args: []string{"sandbox", "exec", "--detach", "demo", "--", "sleep", "1"}},
		{args: []string{"sandbox", "shell", "demo"}, ndjson: true, stdin: "echo hi\ncd /tmp\n"},
		{args: []string{"sandbox", "ports", "expose", "demo", "3000"}},
		{args: []string{"sandbox", "apps", "list", "demo"}},
		{args: []string{"sandbox", "apps", "rotate", "demo", "port:3000"}},
		{args: []string{"sandbox", "ports", "list", "demo"}},
		{args: []string{"sandbox", "ports", "unexpose", "demo", "3000"}},
		{args: []string{"sandbox", "runtimes", "list", "demo"}},
		{args: []string{"sandbox", "runtimes", "install", "demo", "python"}},
		{args: []string{"sandbox", "runtimes", "ensure", "demo", "python"}},
		{args: []string{"sandbox", "destroy", "demo"}},
		{args: []string{"sandbox", "destroy", "--ledger=" + ledgerPath}},
		{args: []string{"mcp", "--print-config", "vscode"}},
		{args: []string{"doctor", "--no-version-check"}},
	}
	covered := map[string]bool{}
	pid := ""
	for _, c := range steps {
		args := make([]string, len(c.args))
		for i, a := range c.args {
			args[i] = strings.ReplaceAll(a, "{pid}", pid)
		}
		path := commandPath(args)
		covered[path] = true
		code, stdout, stderr := runJSONStdin(t, work, env, c.stdin, append([]string{"--json"}, args...)...)
		if (code != 0) != c.passThrough {
			t.Errorf("%s: exit %d\nstdout %s\nstderr %s", strings.Join(args, " "), code, stdout, stderr)
			continue
		}
		if c.ndjson {
			for _, line := range strings.Split(strings.TrimSuffix(string(stdout), "\n"), "\n") {
				if !json.Valid([]byte(line)) || !strings.HasPrefix(line, "{") {
					t.Errorf("%s: stdout line %q is not one JSON object", path, line)
				}
			}
		} else {
			checkOneDocument(t, path, stdout)
		}
		checkJSONLines(t, path, stderr)
		if path == "nimbus sandbox run" {
			if b, err := os.ReadFile(ledgerPath); err != nil || !strings.Contains(string(b), `"id":"run-json"`) {
				t.Errorf("sandbox run: its ledger entry is not in the test's ledger %s (%v): it went to the developer's", ledgerPath, err)
			}
		}
		if path == "nimbus sandbox start" {
			var r struct{ PID json.Number }
			json.Unmarshal(stdout, &r)
			pid = r.PID.String()
		}
	}

	root := cmd.NewRootCmd(cmdutil.New())
	forEachLeaf(root, func(c *cobra.Command) {
		path := c.CommandPath()
		if reason, ok := jsonExempt[path]; ok {
			if reason == "" {
				t.Errorf("%s: exempt without a reason", path)
			}
		} else if !covered[path] {
			t.Errorf("%s has no --json case in TestJSONEverywhere", path)
		}
		// Every command, exempt or not: a flag error under --json is one
		// JSON object with a code and a hint.
		args := append(strings.Fields(strings.TrimPrefix(path, "nimbus")), "--no-such-flag", "--json")
		code, stdout, stderr := runJSON(t, work, env, args...)
		if code == 0 || len(stdout) != 0 {
			t.Errorf("%s --no-such-flag: exit %d, stdout %q", path, code, stdout)
		}
		checkErrorObject(t, path, stderr)
	})
}

func forEachLeaf(c *cobra.Command, fn func(*cobra.Command)) {
	for _, sub := range c.Commands() {
		forEachLeaf(sub, fn)
	}
	if !c.HasSubCommands() && c.Runnable() && !c.Hidden && !cobraOwn(c) {
		fn(c)
	}
}

// commandPath is "nimbus" and the leading words of args that are not
// flags or arguments, as far as the command tree goes.
func commandPath(args []string) string {
	root := cmd.NewRootCmd(cmdutil.New())
	c, _, err := root.Find(args)
	if err != nil {
		return "nimbus " + strings.Join(args, " ")
	}
	return c.CommandPath()
}

func runJSON(t *testing.T, dir string, env []string, args ...string) (int, []byte, []byte) {
	t.Helper()
	return runJSONStdin(t, dir, env, "", args...)
}

func runJSONStdin(t *testing.T, dir string, env []string, stdin string, args ...string) (int, []byte, []byte) {
	t.Helper()
	bin, err := exec.LookPath("nimbus")
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command(bin, args...)
	c.Dir, c.Env = dir, env
	c.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	err = c.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), stdout.Bytes(), stderr.Bytes()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, stdout.Bytes(), stderr.Bytes()
}

func mustRun(t *testing.T, dir string, env []string, args ...string) []byte {
	t.Helper()
	code, stdout, stderr := runJSON(t, dir, env, args...)
	if code != 0 {
		t.Fatalf("nimbus %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	return stdout
}

// checkOneDocument: exactly one JSON value and a newline, compact (stdout
// is a pipe here).
func checkOneDocument(t *testing.T, path string, out []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(out))
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Errorf("%s: stdout is not JSON: %v\n%s", path, err, out)
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Errorf("%s: stdout holds more than one JSON document:\n%s", path, out)
	}
	if bytes.Count(out, []byte("\n")) != 1 || !bytes.HasSuffix(out, []byte("\n")) {
		t.Errorf("%s: JSON in a pipe must be one compact line:\n%s", path, out)
	}
}

// checkErrorObject: stderr is JSON objects only (warnings may come first),
// the last one an error with a code.
func checkErrorObject(t *testing.T, path string, errOut []byte) {
	t.Helper()
	lines := checkJSONLines(t, path, errOut)
	if len(lines) == 0 {
		t.Errorf("%s: no error on stderr", path)
		return
	}
	var e struct{ Error, Code, Hint *string }
	json.Unmarshal([]byte(lines[len(lines)-1]), &e)
	if e.Error == nil || e.Code == nil || *e.Code == "" {
		t.Errorf("%s: last stderr line is not an error object: %s", path, lines[len(lines)-1])
	}
}

func checkJSONLines(t *testing.T, path string, errOut []byte) []string {
	t.Helper()
	if len(errOut) == 0 {
		return nil
	}
	lines := strings.Split(strings.TrimSuffix(string(errOut), "\n"), "\n")
	for _, l := range lines {
		if !strings.HasPrefix(l, "{") || !json.Valid([]byte(l)) {
			t.Errorf("%s: stderr line %q is not a JSON object", path, l)
		}
	}
	return lines
}
