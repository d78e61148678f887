//go:build unix

package cmd_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/cmd"
	"github.com/nimbus-sh/nimbus/internal/cftest"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/iostreams"
	"github.com/nimbus-sh/nimbus/internal/shellquote"
)

// On a terminal, setup draws a checklist on stderr and prints no JSON.
func TestSetupOnTerminalDrawsChecklist(t *testing.T) {
	srv := cftest.New()
	defer srv.Close()
	srv.AddAccount(cfAccount, "Acme Corp")
	srv.AddToken(cfToken, &cftest.Token{Accounts: []string{cfAccount}})
	srv.SetSubdomain(cfAccount, "acme")
	srv.AddBucket(cfAccount, "demo-npm-cache")
	reg := fakeRegistry(t)
	t.Chdir(t.TempDir())
	env := map[string]string{"CLOUDFLARE_API_TOKEN": cfToken, "CLOUDFLARE_API_BASE_URL": srv.BaseURL(), "HOME": t.TempDir(), "NPM_CONFIG_REGISTRY": reg.Registry()}

	code, stdout, stderr := runTTY(t, env, "", "setup", "cloudflare", "--name", "demo")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout on a terminal: %q", stdout)
	}
	for _, want := range []string{
		"API token is valid and active (user token)",
		"account " + cfAccount + " (Acme Corp), the only one the token can access",
		"R2 bucket demo-npm-cache exists",
		"R2 bucket demo-npm-packument-cache created",
		"R2 bucket nimbus-runtime-cache-public created",
		"clang", "cpython", "bash", " verified ", "@nimbus-sh/runtime-clang@8.0.1, downloaded",
		"Downloading ", "Uploading    100% ", "(21/21 KiB, ", // the progress bar of the upload, at its end
		"published to nimbus-runtime-cache-public",
		"no wrangler config to update",
		"Worker URL after deploy: https://demo.acme.workers.dev",
		"recorded endpoint in nimbus.yaml",
		"is ready to deploy",
		"npx wrangler deploy",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("checklist lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stderr, ansiEscape) || !strings.Contains(stderr, "✓") {
		t.Errorf("checklist is not styled:\n%q", stderr)
	}
	if data, _ := os.ReadFile("nimbus.yaml"); string(data) != "endpoint: https://demo.acme.workers.dev\n" {
		t.Errorf("nimbus.yaml: %q", data)
	}

	// --json on a terminal prints the object, indented like all JSON on a
	// terminal; a failure shows the hint line.
	code, stdout, _ = runTTY(t, env, "", "setup", "cloudflare", "--name", "demo", "--json", "--no-color")
	if code != 0 || !strings.HasPrefix(stdout, "{\n  \"ok\": true,\n  \"worker\": \"demo\",") {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
	srv.DisableR2(cfAccount)
	code, _, stderr = runTTY(t, env, "", "setup", "cloudflare", "--name", "demo", "--no-color")
	if code != 78 || !strings.Contains(stderr, "✗ R2 is not enabled on this Cloudflare account") ||
		!strings.Contains(stderr, "nimbus: R2 is not enabled on this Cloudflare account (10042)\nhint: enable R2 once") {
		t.Errorf("exit %d:\n%s", code, stderr)
	}
}

// A dry run on a terminal says nothing was changed.
func TestSetupDryRunOnTerminal(t *testing.T) {
	srv := cftest.New()
	defer srv.Close()
	srv.AddAccount(cfAccount, "Acme Corp")
	srv.AddToken(cfToken, &cftest.Token{Accounts: []string{cfAccount}})
	reg := fakeRegistry(t)
	t.Chdir(t.TempDir())
	env := map[string]string{"CLOUDFLARE_API_TOKEN": cfToken, "CLOUDFLARE_API_BASE_URL": srv.BaseURL(), "HOME": t.TempDir(), "NPM_CONFIG_REGISTRY": reg.Registry()}
	code, _, stderr := runTTY(t, env, "", "setup", "cloudflare", "--name", "demo", "--dry-run", "--no-color")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"R2 bucket demo-npm-cache would be created (dry run)", "would be published to nimbus-runtime-cache-public (dry run)", "no workers.dev subdomain yet", "Dry run: nothing was changed"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("lacks %q:\n%s", want, stderr)
		}
	}
	if srv.Mutations() != 0 {
		t.Error("dry run mutated")
	}
}

// Ctrl-C (a cancelled context) ends setup with 130 and a rerun hint.
func TestSetupInterrupted(t *testing.T) {
	srv := cftest.New()
	defer srv.Close()
	srv.AddAccount(cfAccount, "Acme Corp")
	srv.AddToken(cfToken, &cftest.Token{Accounts: []string{cfAccount}})
	t.Chdir(t.TempDir())
	ios, _, out, errOut := iostreams.Test()
	f := cmdutil.New()
	f.IOStreams = ios
	env := map[string]string{"CLOUDFLARE_API_TOKEN": cfToken, "CLOUDFLARE_API_BASE_URL": srv.BaseURL(), "NPM_CONFIG_REGISTRY": "http://127.0.0.1:9/"}
	f.Getenv = func(k string) string { return env[k] }
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code := cmd.Run(ctx, f, []string{"setup", "cloudflare", "--name", "demo", "--json"})
	if code != 130 || out.Len() != 0 || !strings.Contains(errOut.String(), `"code":"E_INTERRUPTED","hint":"rerun the command; it resumes where it stopped"`) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// When the answer to a bucket POST is lost and the retry finds the bucket,
// the checklist says "created or existed", not "exists".
func TestSetupOnTerminalLostCreateAnswer(t *testing.T) {
	srv := cftest.New()
	defer srv.Close()
	srv.AddAccount(cfAccount, "Acme Corp")
	srv.AddToken(cfToken, &cftest.Token{Accounts: []string{cfAccount}})
	srv.SetSubdomain(cfAccount, "acme")
	srv.AddFault(cftest.Fault{Method: "POST", PathSuffix: "/r2/buckets", Status: 502, Code: 10001, Message: "bad gateway", Times: 1, RetryAfter: "0", Lost: true})
	t.Chdir(t.TempDir())
	env := map[string]string{"CLOUDFLARE_API_TOKEN": cfToken, "CLOUDFLARE_API_BASE_URL": srv.BaseURL(), "HOME": t.TempDir()}
	code, _, stderr := runTTY(t, env, "", "setup", "cloudflare", "--name", "demo", "--no-color")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "R2 bucket demo-npm-cache created or existed") || strings.Contains(stderr, "R2 bucket demo-npm-cache exists") {
		t.Fatalf("checklist:\n%s", stderr)
	}
	if !strings.Contains(stderr, "R2 bucket demo-npm-packument-cache created") {
		t.Fatalf("checklist:\n%s", stderr)
	}
}

// setupTTYEnv starts a fake Cloudflare API and npm registry for setup and
// returns the server with the environment of a session in a fresh
// directory.
func setupTTYEnv(t *testing.T) (*cftest.Server, map[string]string) {
	t.Helper()
	srv := cftest.New()
	t.Cleanup(srv.Close)
	srv.AddAccount(cfAccount, "Acme Corp")
	srv.AddToken(cfToken, &cftest.Token{Accounts: []string{cfAccount}})
	srv.SetSubdomain(cfAccount, "acme")
	reg := fakeRegistry(t)
	t.Chdir(t.TempDir())
	home := t.TempDir()
	return srv, map[string]string{"CLOUDFLARE_API_TOKEN": cfToken, "CLOUDFLARE_API_BASE_URL": srv.BaseURL(),
		"HOME": home, "XDG_CACHE_HOME": home + "/.cache", "NPM_CONFIG_REGISTRY": reg.Registry()}
}

// TestSetupJSONOnTerminalKeepsStderrJSON: with --json, stderr carries JSON
// objects only (README), also when it is a terminal, as when a user runs
// `nimbus setup cloudflare --json > result.json`: no checklist, no progress
// bar, no summary. A warning of the runtime sync (the bucket's manifest
// differed and was replaced) is in stdout's object instead.
func TestSetupJSONOnTerminalKeepsStderrJSON(t *testing.T) {
	srv, env := setupTTYEnv(t)
	srv.AddBucket(cfAccount, "nimbus-runtime-cache-public")
	srv.PutObject(cfAccount, "nimbus-runtime-cache-public", "manifests/bash-5.2.37.json", []byte(`{"name":"bash"}`), "application/json")
	code, stdout, stderr := runTTY(t, env, "", "setup", "cloudflare", "--name", "demo", "--json")
	if code != 0 || !strings.Contains(stdout, `"ok": true`) {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "manifests/bash-5.2.37.json in the bucket differs from the package's and is replaced") {
		t.Errorf("the sync's warning is not in stdout's object:\n%s", stdout)
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if line != "" && !strings.HasPrefix(line, "{") {
			t.Errorf("stderr with --json carries a line that is no JSON object: %q\nstderr:\n%q", line, stderr)
			break
		}
	}
	if strings.Contains(stderr, "\x1b") || strings.Contains(stderr, "\r") || strings.Contains(stderr, "verified") || strings.Contains(stderr, "ready to deploy") {
		t.Errorf("stderr with --json carries progress output besides JSON:\n%q", stderr)
	}
}

// TestSetupWarnsWithStdoutOnTerminalAndStderrLogged: with stdout on a
// terminal (no JSON object) and stderr redirected to a log (no checklist),
// a warning of the runtime sync, here that the bucket's manifest differed
// and was replaced, which breaks Workers pinned to the old catalog, must
// still reach stderr.
func TestSetupWarnsWithStdoutOnTerminalAndStderrLogged(t *testing.T) {
	srv, env := setupTTYEnv(t)
	srv.AddBucket(cfAccount, "nimbus-runtime-cache-public")
	srv.PutObject(cfAccount, "nimbus-runtime-cache-public", "manifests/bash-5.2.37.json", []byte(`{"name":"bash"}`), "application/json")
	ios, _, out, errOut := iostreams.Test()
	ios.SetStdoutTTY(true)
	ios.SetStderrTTY(false)
	f := cmdutil.New()
	f.IOStreams = ios
	f.Getenv = func(k string) string { return env[k] }
	if code := cmd.Run(context.Background(), f, []string{"setup", "cloudflare", "--name", "demo"}); code != 0 {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	if out.Len() != 0 {
		t.Errorf("stdout %q", out)
	}
	if !strings.Contains(errOut.String(), "nimbus: warning: manifests/bash-5.2.37.json in the bucket differs from the package's and is replaced") {
		t.Errorf("the warning is missing from stderr:\n%s", errOut)
	}
}

// TestSetupWarnsInALog: in a pipe (no checklist), setup's own warning, an
// account without a workers.dev subdomain, reaches stderr as a line and
// stdout's object as "warnings"; it used to reach neither.
func TestSetupWarnsInALog(t *testing.T) {
	srv := cftest.New()
	defer srv.Close()
	srv.AddAccount(cfAccount, "Acme Corp")
	srv.AddToken(cfToken, &cftest.Token{Accounts: []string{cfAccount}})
	t.Chdir(t.TempDir())
	env := map[string]string{"CLOUDFLARE_API_TOKEN": cfToken, "CLOUDFLARE_API_BASE_URL": srv.BaseURL(), "HOME": t.TempDir()}
	ios, _, out, errOut := iostreams.Test()
	f := cmdutil.New()
	f.IOStreams = ios
	f.Getenv = func(k string) string { return env[k] }
	if code := cmd.Run(context.Background(), f, []string{"setup", "cloudflare", "--name", "demo", "--skip-runtimes"}); code != 0 {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	const msg = "the account has no workers.dev subdomain yet"
	if !strings.Contains(out.String(), `"warnings":["`+msg) {
		t.Errorf("stdout's object lacks the warning: %s", out)
	}
	if !strings.Contains(errOut.String(), "nimbus: warning: "+msg) {
		t.Errorf("stderr lacks the warning:\n%s", errOut)
	}
}

// The summary's command for minting with a generated secret can be pasted
// as it is, also where the config directory's path has a space (macOS:
// ~/Library/Application Support).
func TestSetupSummaryQuotesTheSecretPath(t *testing.T) {
	srv := cftest.New()
	defer srv.Close()
	srv.AddAccount(cfAccount, "Acme Corp")
	srv.AddToken(cfToken, &cftest.Token{Accounts: []string{cfAccount}})
	srv.SetSubdomain(cfAccount, "acme")
	srv.DeployWorker(cfAccount, "demo")
	t.Chdir(t.TempDir())
	config := filepath.Join(t.TempDir(), "Application Support")
	env := map[string]string{"CLOUDFLARE_API_TOKEN": cfToken, "CLOUDFLARE_API_BASE_URL": srv.BaseURL(), "XDG_CONFIG_HOME": config}
	code, _, stderr := runTTY(t, env, "", "setup", "cloudflare", "--name", "demo", "--skip-runtimes", "--set-secret", "--no-color")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	file := filepath.Join(config, "nimbus", "secrets", cfAccount, "demo.jwt-secret")
	want := "JWT_SECRET=$(cat " + shellquote.Quote(file) + ") nimbus token mint"
	if !strings.Contains(stderr, want) {
		t.Fatalf("summary lacks %q:\n%s", want, stderr)
	}
	// The shell reads the file the command names.
	line := stderr[strings.Index(stderr, "JWT_SECRET=$(cat "):]
	line = line[:strings.Index(line, " nimbus token mint")]
	out, err := exec.Command("sh", "-c", line+"; printf %s \"$JWT_SECRET\"").Output()
	if v, _ := srv.Secret(cfAccount, "demo", "JWT_SECRET"); err != nil || string(out) != v {
		t.Fatalf("%s: %q, %v; the Worker has another secret", line, out, err)
	}
}

// On a terminal, a rerun after a rotation by hand says in the checklist
// that the Worker's JWT_SECRET was left as is, and does not suggest
// --set-secret as a next step.
func TestSetupOnTerminalLeavesTheWorkersSecret(t *testing.T) {
	srv := cftest.New()
	defer srv.Close()
	srv.AddAccount(cfAccount, "Acme Corp")
	srv.AddToken(cfToken, &cftest.Token{Accounts: []string{cfAccount}})
	srv.SetSubdomain(cfAccount, "acme")
	srv.DeployWorker(cfAccount, "demo")
	t.Chdir(t.TempDir())
	env := map[string]string{"CLOUDFLARE_API_TOKEN": cfToken, "CLOUDFLARE_API_BASE_URL": srv.BaseURL(), "XDG_CONFIG_HOME": t.TempDir()}
	args := []string{"setup", "cloudflare", "--name", "demo", "--skip-runtimes", "--set-secret", "--no-color"}
	if code, _, stderr := runTTY(t, env, "", args...); code != 0 || !strings.Contains(stderr, "✓ JWT_SECRET set on Worker demo") {
		t.Fatalf("first run: exit %d:\n%s", code, stderr)
	}
	rotated := strings.Repeat("r", 40)
	srv.SetSecret(cfAccount, "demo", "JWT_SECRET", rotated)
	code, _, stderr := runTTY(t, env, "", args...)
	if code != 0 || !strings.Contains(stderr, "✓ JWT_SECRET already set on Worker \"demo\": left as is\n") || strings.Contains(stderr, "--set-secret") {
		t.Errorf("rerun: exit %d:\n%s", code, stderr)
	}
	if v, _ := srv.Secret(cfAccount, "demo", "JWT_SECRET"); v != rotated {
		t.Error("the rerun reverted the rotated secret")
	}
}
