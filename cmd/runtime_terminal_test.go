//go:build unix

package cmd_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/cmd"
	"github.com/nimbus-sh/nimbus/internal/cftest"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/iostreams"
	"github.com/nimbus-sh/nimbus/internal/npmtest"
	"github.com/nimbus-sh/nimbus/pkg/runtimesync"
)

// runtimeTTYEnv starts a fake Cloudflare API with the default runtime
// bucket and returns it with the environment of a terminal session in a
// fresh directory.
func runtimeTTYEnv(t *testing.T) (*cftest.Server, map[string]string) {
	t.Helper()
	srv := cftest.New()
	t.Cleanup(srv.Close)
	srv.AddAccount(cfAccount, "Acme Corp")
	srv.AddToken(cfToken, &cftest.Token{Accounts: []string{cfAccount}})
	srv.AddBucket(cfAccount, "nimbus-runtime-cache-public")
	t.Chdir(t.TempDir())
	home := t.TempDir()
	return srv, map[string]string{"CLOUDFLARE_API_TOKEN": cfToken, "CLOUDFLARE_API_BASE_URL": srv.BaseURL(),
		"HOME": home, "XDG_CACHE_HOME": home + "/.cache"}
}

// TestRuntimeListTableShowsNoTerminalControls: the catalog comes from the
// bucket, which anyone with R2 write access (or a package's manifest, whose
// license the sync copies into it) fills; the table on a terminal must not
// pass an ESC, BEL or bidi override of theirs to the terminal, where it
// could retitle the window, write the clipboard (OSC 52) or hide text.
func TestRuntimeListTableShowsNoTerminalControls(t *testing.T) {
	srv, env := runtimeTTYEnv(t)
	cat := runtimesync.NewCatalog()
	cat.Set("bash\x1b]0;owned\a", "5.2.37\x1b[2J", runtimesync.CatalogEntry{Manifest: "manifests/bash-5.2.37.json",
		ManifestSHA256: strings.Repeat("ab", 32), SizeBytes: 1 << 20, License: "GPL\x1b]52;c;cm0gLXJmIH4=\a\u202eevil\nMIT\rX"})
	srv.PutObject(cfAccount, "nimbus-runtime-cache-public", "catalog/v1.json", cat.Bytes(), "application/json")

	code, stdout, stderr := runTTY(t, env, "", "runtime", "list", "--no-color")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"bash", "5.2.37", "GPL", "evil", "1.0 MiB"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	for _, bad := range []string{"\x1b", "\a", "\u202e", "\r"} {
		if strings.Contains(stdout, bad) || strings.Contains(stderr, bad) {
			t.Errorf("the terminal received %q from the catalog:\nstdout %q\nstderr %q", bad, stdout, stderr)
		}
	}
	if n := strings.Count(stdout, "\n"); n != 2 {
		t.Errorf("table has %d lines, want a header and one row:\n%s", n, stdout)
	}
}

// TestRuntimeListTableAlignedInColour: the bold header's escape
// sequences take no room on the screen, so they must not count in the
// column widths; they did, and on a colour terminal every row started its
// columns several places right of the heading above it.
func TestRuntimeListTableAlignedInColour(t *testing.T) {
	srv, env := runtimeTTYEnv(t)
	cat := runtimesync.NewCatalog()
	cat.Set("bash", "5.2.37", runtimesync.CatalogEntry{Manifest: "manifests/bash-5.2.37.json",
		ManifestSHA256: strings.Repeat("ab", 32), SizeBytes: 1 << 20, License: "GPL-3.0-or-later"})
	srv.PutObject(cfAccount, "nimbus-runtime-cache-public", "catalog/v1.json", cat.Bytes(), "application/json")
	env["TERM"] = "xterm-256color"

	code, stdout, stderr := runTTY(t, env, "", "runtime", "list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, ansiEscape) {
		t.Fatalf("no colour on a colour terminal, so nothing to check:\n%q", stdout)
	}
	lines := strings.Split(stripANSI(stdout), "\n")
	if len(lines) < 2 {
		t.Fatalf("table %q", stdout)
	}
	for _, col := range [][2]string{{"VERSION", "5.2.37"}, {"SIZE", "1.0 MiB"}, {"LICENSE", "GPL"}} {
		if h, r := strings.Index(lines[0], col[0]), strings.Index(lines[1], col[1]); h != r {
			t.Errorf("column %s starts at %d in the heading and at %d in the row:\n%s", col[0], h, r, strings.Join(lines, "\n"))
		}
	}
}

// stripANSI removes the SGR sequences nimbus's styles write.
func stripANSI(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, ansiEscape)
		if i < 0 {
			return b.String() + s
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i:], 'm')
		if j < 0 {
			return b.String()
		}
		s = s[i+j+1:]
	}
}

// TestRuntimeSyncIgnoresVersionsThatAreNotVersions: the registry names the
// versions (the packument's keys), and the progress lines on a terminal
// print the one synced. A key that is no npm version, here one with a
// right-to-left override that reorders what the terminal shows, is not a
// version to install: it is ignored like a missing one, so it never reaches
// the terminal or the cache.
func TestRuntimeSyncIgnoresVersionsThatAreNotVersions(t *testing.T) {
	rt, err := runtimeFromDir("bash", "5.2.37", "GPL-3.0-or-later", filepath.Join("testdata", "runtime-pkgs", "bash"))
	if err != nil {
		t.Fatal(err)
	}
	_, env := runtimeTTYEnv(t)
	reg := npmtest.New()
	t.Cleanup(reg.Close)
	reg.Publish("@nimbus-sh/runtime-bash", "5.2.37\u202e", rt.Tarball())
	env["NPM_CONFIG_REGISTRY"] = reg.Registry()

	code, stdout, stderr := runTTY(t, env, "", "runtime", "sync", "bash", "--no-color")
	if strings.Contains(stdout+stderr, "\u202e") {
		t.Errorf("the terminal received the registry's bidi override:\nstdout %q\nstderr %q", stdout, stderr)
	}
	if code != 64 || !strings.Contains(stderr, "no version of @nimbus-sh/runtime-bash is published") {
		t.Errorf("exit %d, want 64 naming no published version:\n%s", code, stderr)
	}
	if _, tb := reg.Count(); tb != 0 {
		t.Errorf("%d tarball downloads of a version that is not one", tb)
	}
}

// TestRuntimeSyncJSONOnTerminalKeepsStderrJSON: with --json, stderr carries
// JSON objects only (docs/runtime.md), also when it is a terminal, as when
// a user runs `nimbus runtime sync --json > result.json`: no progress bar
// and no "verified" line between the JSON warnings.
func TestRuntimeSyncJSONOnTerminalKeepsStderrJSON(t *testing.T) {
	reg := fakeRegistry(t)
	_, env := runtimeTTYEnv(t)
	env["NPM_CONFIG_REGISTRY"] = reg.Registry()
	code, stdout, stderr := runTTY(t, env, "", "runtime", "sync", "bash", "--json")
	if code != 0 || !strings.Contains(stdout, `"ok": true`) {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, `"code": "W_CATALOG_PIN_MISSING"`) && !strings.Contains(stderr, `"code":"W_CATALOG_PIN_MISSING"`) {
		t.Errorf("no pin warning on stderr:\n%s", stderr)
	}
	if strings.Contains(stderr, "\x1b") || strings.Contains(stderr, "\r") || strings.Contains(stderr, "verified") {
		t.Errorf("stderr with --json carries progress output besides JSON:\n%q", stderr)
	}
}

// TestRuntimeSyncDownloadBarAfterARetry: a download that broke off is
// started again; the bar must end at 100% of the tarball, not count the
// tarball twice and stop at 75% after a successful sync.
func TestRuntimeSyncDownloadBarAfterARetry(t *testing.T) {
	reg := fakeRegistry(t)
	reg.AddFault(npmtest.Fault{PathSuffix: "/runtime-bash-5.2.37.tgz", Truncate: true, Times: 1})
	_, env := runtimeTTYEnv(t)
	env["NPM_CONFIG_REGISTRY"] = reg.Registry()
	code, _, stderr := runTTY(t, env, "", "runtime", "sync", "bash", "--no-color")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	if _, tb := reg.Count(); tb != 2 {
		t.Fatalf("%d tarball requests, want the broken one and its retry:\n%s", tb, reg.Summary())
	}
	i := strings.LastIndex(stderr, "Downloading")
	if i < 0 {
		t.Fatalf("no download bar:\n%q", stderr)
	}
	last, _, _ := strings.Cut(stderr[i:], "\n")
	if !strings.Contains(last, " 100% ") {
		t.Errorf("the download bar ends at %q, want 100%%", last)
	}
}

// TestRuntimeSyncWarnsWithStdoutOnTerminalAndStderrLogged: with stdout on
// a terminal (no JSON object) and stderr redirected to a log (no progress
// view), a warning of the sync, here that the bucket's manifest differed
// and was replaced, which breaks Workers pinned to the old catalog, must
// still reach stderr; it used to be printed by neither.
func TestRuntimeSyncWarnsWithStdoutOnTerminalAndStderrLogged(t *testing.T) {
	reg := fakeRegistry(t)
	srv, env := runtimeTTYEnv(t)
	env["NPM_CONFIG_REGISTRY"] = reg.Registry()
	srv.PutObject(cfAccount, "nimbus-runtime-cache-public", "manifests/bash-5.2.37.json", []byte(`{"name":"bash"}`), "application/json")

	ios, _, out, errOut := iostreams.Test()
	ios.SetStdoutTTY(true)
	ios.SetStderrTTY(false)
	f := cmdutil.New()
	f.IOStreams = ios
	f.Getenv = func(k string) string { return env[k] }
	if code := cmd.Run(context.Background(), f, []string{"runtime", "sync", "bash"}); code != 0 {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	if !strings.HasPrefix(out.String(), "NIMBUS_RUNTIME_CATALOG_SHA256=") {
		t.Errorf("stdout %q", out)
	}
	if !strings.Contains(errOut.String(), "manifests/bash-5.2.37.json in the bucket differs from the package's and is replaced") {
		t.Errorf("the warning is missing from stderr:\n%s", errOut)
	}
}

// TestRuntimeSyncQuietOnTerminal: --quiet hides the progress (verified
// lines, bars) and the summary on a terminal, as it does for the transfer
// commands, and keeps what the user must act on: the advice on the pin.
func TestRuntimeSyncQuietOnTerminal(t *testing.T) {
	reg := fakeRegistry(t)
	_, env := runtimeTTYEnv(t)
	env["NPM_CONFIG_REGISTRY"] = reg.Registry()
	code, stdout, stderr := runTTY(t, env, "", "runtime", "sync", "bash", "--quiet", "--no-color")
	if code != 0 || !strings.HasPrefix(stdout, "NIMBUS_RUNTIME_CATALOG_SHA256=") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	for _, progress := range []string{"verified", "Downloading", "Uploading", "published catalog", "\r"} {
		if strings.Contains(stderr, progress) {
			t.Errorf("--quiet stderr shows %q:\n%q", progress, stderr)
		}
	}
	if !strings.Contains(stderr, "must carry") {
		t.Errorf("--quiet dropped the advice on the pin:\n%s", stderr)
	}
}
