package cmd_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
)

// sandboxTTY starts the local backend (package sandboxtest) and points the
// in-process nimbus at it with the token of scriptIDs[name]. Viper reads
// NIMBUS_* from the process environment, hence t.Setenv.
func sandboxTTY(t *testing.T, name string) *sandboxtest.Server {
	t.Helper()
	srv := sandboxtest.New(sandboxtest.Options{})
	t.Cleanup(srv.Close)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("NIMBUS_ENDPOINT", srv.URL)
	t.Setenv("NIMBUS_TOKEN", srv.Token(scriptIDs[name]))
	// sandbox run records its sandbox in the cleanup ledger: the test's
	// own, not the developer's default one in /tmp.
	t.Setenv("NIMBUS_LEDGER", filepath.Join(t.TempDir(), "ledger.jsonl"))
	t.Chdir(t.TempDir())
	return srv
}

func TestSandboxHumanOutputOnTerminal(t *testing.T) {
	sandboxTTY(t, "use")
	if code, _, stderr := runTTY(t, nil, "hello\n", "sandbox", "files", "write", "job-1", "app/a.txt"); code != 0 || !strings.Contains(stderr, "Wrote 6 bytes to /home/user/app/a.txt") {
		t.Fatalf("write: %d %q", code, stderr)
	}
	code, stdout, _ := runTTY(t, nil, "", "sandbox", "files", "ls", "job-1", "--no-color")
	if code != 0 || stdout != "app/\n" {
		t.Fatalf("ls: %d %q", code, stdout)
	}
	code, stdout, _ = runTTY(t, nil, "", "sandbox", "files", "stat", "job-1", "app/a.txt")
	if code != 0 || !strings.Contains(stdout, "type:  file") || !strings.Contains(stdout, "size:  6") || !strings.Contains(stdout, "mode:  0644") ||
		!regexp.MustCompile(`(?m)^mtime: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(stdout) {
		t.Fatalf("stat (times in RFC 3339 on a terminal): %d %q", code, stdout)
	}
	// An empty list says so on stderr, as apps list does, instead of a
	// header over nothing.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ps", "job-1"}, "No processes: start one with nimbus sandbox start job-1 -- COMMAND\n"},
		{[]string{"ports", "list", "job-1"}, "No exposed ports: expose one with nimbus sandbox ports expose job-1 PORT\n"},
		{[]string{"apps", "list", "job-1"}, "No apps: start a server (nimbus sandbox start job-1 -- COMMAND), then expose it.\n"},
	} {
		code, stdout, stderr := runTTY(t, nil, "", append(append([]string{"sandbox"}, c.args...), "--no-color")...)
		if code != 0 || stdout != "" || stderr != c.want {
			t.Fatalf("%v: %d stdout %q stderr %q, want stderr %q", c.args, code, stdout, stderr, c.want)
		}
	}
	code, stdout, _ = runTTY(t, nil, "", "sandbox", "ready", "job-1", "--no-color")
	if code != 0 || !strings.Contains(stdout, "sandbox job-1 is ready (preinstalled: none)") {
		t.Fatalf("ready: %d %q", code, stdout)
	}
	code, stdout, _ = runTTY(t, nil, "", "sandbox", "start", "job-1", "--", "sleep", "5")
	if code != 0 || strings.TrimSpace(stdout) != "1000001" {
		t.Fatalf("start: %d %q", code, stdout)
	}
	code, stdout, _ = runTTY(t, nil, "", "sandbox", "ps", "job-1", "--no-color")
	if code != 0 || !strings.Contains(stdout, "PID") || !strings.Contains(stdout, "1000001") || !strings.Contains(stdout, "running") {
		t.Fatalf("ps: %d %q", code, stdout)
	}
	// Commands that change something say what they did on a terminal,
	// as write and cp do, and leave stdout to data.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"files", "mkdir", "job-1", "made/deep"}, "✓ Created /home/user/made/deep\n"},
		{[]string{"files", "rm", "job-1", "made", "-r"}, "✓ Removed /home/user/made\n"},
		{[]string{"kill", "job-1", "1000001", "--signal", "TERM"}, "✓ Sent SIGTERM to process 1000001\n"},
	} {
		code, stdout, stderr := runTTY(t, nil, "", append(append([]string{"sandbox"}, c.args...), "--no-color")...)
		if code != 0 || stdout != "" || stderr != c.want {
			t.Fatalf("%v: %d stdout %q stderr %q, want stderr %q", c.args, code, stdout, stderr, c.want)
		}
	}
	code, stdout, _ = runTTY(t, nil, "", "sandbox", "start", "job-1", "--", "sleep", "5")
	if code != 0 {
		t.Fatalf("start: %d %q", code, stdout)
	}
	pid := strings.TrimSpace(stdout)
	if code, stdout, stderr := runTTY(t, nil, "", "sandbox", "kill", "job-1", pid, "--no-color"); code != 0 || stdout != "" || stderr != "✓ Killed process "+pid+"\n" {
		t.Fatalf("kill: %d %q %q", code, stdout, stderr)
	}
	// The local backend has no runtimes to install (it uses the host's):
	// said on stderr, as empty lists are, not an AVAILABLE heading over
	// nothing.
	code, stdout, stderr := runTTY(t, nil, "", "sandbox", "runtimes", "list", "job-1", "--no-color")
	if code != 0 || !strings.HasPrefix(stdout, "INSTALLED\n") || !regexp.MustCompile(`(?m)^  shell( |$)`).MatchString(stdout) || strings.Contains(stdout, "AVAILABLE") ||
		stderr != "No runtimes available to install\n" {
		t.Fatalf("runtimes: %d stdout %q stderr %q", code, stdout, stderr)
	}
	// The answer to installRuntime and ensureRuntimes ({spec, exitCode,
	// stdout, stderr}) does not say whether the runtime was installed
	// now or was there already: the line is true in both cases, not
	// "Installed", on the first install as on the next ensure.
	for _, args := range [][]string{{"install", "job-1", "python"}, {"ensure", "job-1", "python"}, {"ensure", "job-1", "python", "node"}} {
		code, stdout, stderr := runTTY(t, nil, "", append(append([]string{"sandbox", "runtimes"}, args...), "--no-color")...)
		want := ""
		for _, spec := range args[2:] {
			want += "✓ " + spec + " is installed\n"
		}
		if code != 0 || stdout != "" || stderr != want {
			t.Fatalf("runtimes %v: %d stdout %q stderr %q, want stderr %q", args, code, stdout, stderr, want)
		}
	}
	// An exposed port nothing listens on has no pid: "-", not 0.
	if code, _, stderr := runTTY(t, nil, "", "sandbox", "ports", "expose", "job-1", "3999"); code != 0 {
		t.Fatalf("expose: %d %q", code, stderr)
	}
	code, stdout, _ = runTTY(t, nil, "", "sandbox", "ports", "list", "job-1", "--no-color")
	if code != 0 || !regexp.MustCompile(`(?m)^3999 +- +http://3999--job-1\.localhost:\d+/$`).MatchString(stdout) {
		t.Fatalf("ports list: %d %q", code, stdout)
	}
	if code, stdout, stderr := runTTY(t, nil, "", "sandbox", "ports", "unexpose", "job-1", "3999", "--no-color"); code != 0 || stdout != "" || stderr != "✓ Port 3999 is no longer exposed\n" {
		t.Fatalf("unexpose: %d %q %q", code, stdout, stderr)
	}
	if code, stdout, stderr := runTTY(t, nil, "", "sandbox", "ports", "unexpose", "job-1", "3999", "--no-color"); code != 0 || stdout != "" || stderr != "✓ Port 3999 was not exposed\n" {
		t.Fatalf("unexpose again: %d %q %q", code, stdout, stderr)
	}

	// cp ends with a summary on a terminal (the progress bar is tested in
	// cmd/internal/sandboxcli).
	local := filepath.Join(t.TempDir(), "tree")
	os.MkdirAll(filepath.Join(local, "sub"), 0o755)
	os.WriteFile(filepath.Join(local, "sub", "f.txt"), []byte("x"), 0o644)
	code, _, stderr = runTTY(t, nil, "", "sandbox", "cp", "-r", local, "job-1:copied", "--no-color")
	if code != 0 || !strings.Contains(stderr, "Copied 1 file(s), 1 B") {
		t.Fatalf("cp: %d %q", code, stderr)
	}
	// ...and so does sync (in a pipe neither prints one: transfer/sync.txtar).
	code, stdout, stderr = runTTY(t, nil, "", "sandbox", "sync", local, "job-1:synced", "--no-color")
	if code != 0 || stdout != "" || !strings.HasSuffix(stderr, "\r✓ Synced: 1 copied (1 B), 0 unchanged, 0 deleted\n") {
		t.Fatalf("sync: %d %q %q", code, stdout, stderr)
	}
}

func TestSandboxErrorsOnTerminalNameCodeAndHint(t *testing.T) {
	sandboxTTY(t, "attach")
	code, _, stderr := runTTY(t, nil, "", "sandbox", "exec", "job-1", "--no-color", "--", "true")
	if code != 125 {
		t.Fatalf("exit %d", code)
	}
	want := "nimbus: Missing required scope: sandbox:use (E_SCOPE_MISSING)\nhint: the token lacks the sandbox:use scope: mint one with it (nimbus token mint --tenant acme --scopes sandbox:use --sid job-1), or let nimbus mint one (JWT_SECRET and --tenant)\n"
	if stderr != want {
		t.Fatalf("stderr %q\nwant   %q", stderr, want)
	}
	t.Setenv("NIMBUS_TOKEN", "")
	code, _, stderr = runTTY(t, nil, "", "sandbox", "ready", "job-1", "--no-color")
	if code != 78 || !strings.Contains(stderr, "no credential for the Nimbus Worker (E_NO_CREDENTIAL)") || !strings.Contains(stderr, "hint: pass --token-file FILE") {
		t.Fatalf("%d %q", code, stderr)
	}
}

// TestRunFailureSaidOnceOnTerminal: a download that fails after a command
// that exited 0 is the error nimbus exits with, rendered for people with
// its code and hint, and not also as a "✗ download failed" line above it.
func TestRunFailureSaidOnceOnTerminal(t *testing.T) {
	sandboxTTY(t, "destroy")
	code, _, stderr := runTTY(t, nil, "", "sandbox", "run", "--no-color", "--download", "nothing.txt", "--", "true")
	if code != 125 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if n := strings.Count(stderr, "nothing.txt: no such file or directory"); n != 1 || !strings.Contains(stderr, "nimbus: /home/user/nothing.txt: no such file or directory in the sandbox (E_NOT_FOUND)\nhint: ") {
		t.Fatalf("the error %d times, want once, as nimbus's error:\n%s", n, stderr)
	}
	if b, err := os.ReadFile(os.Getenv("NIMBUS_LEDGER")); err != nil || !strings.Contains(string(b), `"op":"add","id":"run-`) {
		t.Fatalf("the run's ledger entry is not in the test's ledger (%v): it went to the developer's", err)
	}
}

// TestKeptSandboxNoticeOnTerminal: the notice of a kept sandbox names the
// destroy command as every hint on a sandbox does (sandboxcli.Hints),
// which writes the id quoted for a shell; the sandbox is still there.
func TestKeptSandboxNoticeOnTerminal(t *testing.T) {
	sandboxTTY(t, "destroy")
	code, _, stderr := runTTY(t, nil, "", "sandbox", "run", "--no-color", "--keep", "--id", "job-k", "--", "true")
	if code != 0 || !strings.Contains(stderr, "! Kept sandbox job-k (nimbus sandbox destroy job-k when done)\n") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
}
