package cmd_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/cmd"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/iostreams"
)

// runTTY runs nimbus in-process with stdout and stderr marked as
// terminals, which a child process under test cannot have.
func runTTY(t *testing.T, env map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ios, in, out, errOut := iostreams.Test()
	in.WriteString(stdin)
	ios.SetStdoutTTY(true)
	ios.SetStderrTTY(true)
	f := cmdutil.New()
	f.IOStreams = ios
	f.Getenv = os.Getenv // the test's t.Setenv, for tests that pass no map
	if env != nil {
		f.Getenv = func(k string) string { return env[k] }
	}
	f.Now = func() time.Time { return time.UnixMilli(1750000000123) }
	code = cmd.Run(context.Background(), f, args)
	return code, out.String(), errOut.String()
}

const ansiEscape = "\x1b["

func TestMintOnTerminalPrintsSummaryToStderr(t *testing.T) {
	env := map[string]string{"JWT_SECRET": "nimbus-test-secret"}
	code, stdout, stderr := runTTY(t, env, "", "token", "mint", "--tenant", "acme", "--sub", "alice", "--scopes", "sandbox:use", "--sid", "job-1")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if strings.Count(stdout, "\n") != 1 || !strings.HasPrefix(stdout, "eyJ") {
		t.Errorf("stdout must be the token alone, got %q", stdout)
	}
	for _, want := range []string{"Minted a token", "acme", "alice", "sandbox:use", "job-1", "2025-06-15 16:06:40 UTC", "in 1h"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("summary lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stderr, ansiEscape) {
		t.Errorf("terminal summary is not styled: %q", stderr)
	}

	_, _, plain := runTTY(t, env, "", "token", "mint", "--tenant", "acme", "--no-color")
	if strings.Contains(plain, ansiEscape) {
		t.Errorf("--no-color output has escapes: %q", plain)
	}
}

// TestColourOffWithNoColorOrDumbTerminal: on a terminal, colour is on
// unless NO_COLOR is set to anything, TERM is dumb, or --no-color is given
// (before or after a parse error).
func TestColourOffWithNoColorOrDumbTerminal(t *testing.T) {
	secret := "0123456789abcdef0123456789abcdef"
	for _, c := range []struct {
		env    map[string]string
		args   []string
		styled bool
	}{
		{map[string]string{"TERM": "xterm-256color"}, nil, true},
		{map[string]string{"TERM": "dumb"}, nil, false},
		{map[string]string{"NO_COLOR": "1"}, nil, false},
		{map[string]string{"NO_COLOR": "0"}, nil, false}, // any value, as no-color.org says
		{map[string]string{"NO_COLOR": ""}, nil, true},
		{nil, []string{"--no-color"}, false},
		{nil, []string{"--no-color=false"}, true},
	} {
		env := map[string]string{"JWT_SECRET": secret}
		for k, v := range c.env {
			env[k] = v
		}
		_, _, stderr := runTTY(t, env, "", append([]string{"token", "mint", "--tenant", "acme"}, c.args...)...)
		if got := strings.Contains(stderr, ansiEscape); got != c.styled || !strings.Contains(stderr, "Minted a token") {
			t.Errorf("env %v args %v: styled %v, want %v\n%q", c.env, c.args, got, c.styled, stderr)
		}
		// An error found before the flags are parsed honours them too.
		_, _, stderr = runTTY(t, env, "", append([]string{"token", "mint", "--bogus"}, c.args...)...)
		if got := strings.Contains(stderr, ansiEscape); got != c.styled {
			t.Errorf("env %v args %v: error styled %v, want %v\n%q", c.env, c.args, got, c.styled, stderr)
		}
	}
}

func TestVerifyOnTerminalShowsStyledView(t *testing.T) {
	env := map[string]string{"JWT_SECRET": "nimbus-test-secret", "JWT_SECRET_PREVIOUS": "nimbus-old-secret"}
	oldEnv := map[string]string{"JWT_SECRET": "nimbus-old-secret"}
	_, tok, _ := runTTY(t, oldEnv, "", "token", "mint", "--tenant", "acme", "--ttl", "90")
	code, stdout, stderr := runTTY(t, env, "", "token", "verify", strings.TrimSpace(tok), "--no-color")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Valid token", "signed with JWT_SECRET_PREVIOUS", "acme:_", "(in 1m30s)", "(all: no scopes claim)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("view lacks %q:\n%s", want, stdout)
		}
	}
}

func TestErrorsOnTerminalAreForPeople(t *testing.T) {
	code, stdout, stderr := runTTY(t, map[string]string{"JWT_SECRET": "x"}, "", "token", "verify", "abc", "--no-color")
	if code != 65 || stdout != "" {
		t.Fatalf("exit %d stdout %q", code, stdout)
	}
	want := "nimbus: Malformed token: expected 3 dot-separated parts, got 1 (E_TOKEN_MALFORMED)\nhint: pass the whole token: three base64url parts separated by dots\n"
	if stderr != want {
		t.Errorf("stderr %q\nwant   %q", stderr, want)
	}
	code, _, stderr = runTTY(t, nil, "", "token", "mint", "--tenant", "acme", "--no-color")
	if code != 78 || !strings.Contains(stderr, "nimbus: JWT_SECRET env var required (E_CONFIG_MISSING)\nhint: export JWT_SECRET") {
		t.Errorf("exit %d stderr %q", code, stderr)
	}
	code, _, stderr = runTTY(t, nil, "", "token", "mnit", "--no-color")
	if code != 64 || !strings.Contains(stderr, `hint: did you mean mint?`) {
		t.Errorf("exit %d stderr %q", code, stderr)
	}
}

func TestInspectOnTerminal(t *testing.T) {
	const expired = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzY29wZSI6Im5pbWJ1cyIsInRuIjoiYWNtZSIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAwMDYwfQ.xrN8VguTA_lf0GN-nYWud5QNhNtJOwioClkwiV6PVXw"
	code, stdout, stderr := runTTY(t, nil, "", "token", "inspect", expired, "--no-color")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "NOT VERIFIED") {
		t.Errorf("no warning on stderr: %q", stderr)
	}
	// 578d16h52m20s, rounded to the hour as every span is (duration.Human).
	for _, want := range []string{`header "HS256"`, "expired 578d17h ago", "32 bytes"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("inspect view lacks %q:\n%s", want, stdout)
		}
	}
}

// TestInspectQuotesHostileClaimsOnTerminal: inspect shows claims nobody
// vouches for, so one holding a character a terminal would act on or that
// passes for something else (an escape, a line separator, a Hangul filler
// that looks like a space) is shown quoted with that character escaped
// (clierr.Printable), never raw.
func TestInspectQuotesHostileClaimsOnTerminal(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	tok := enc([]byte(`{"alg":"HS256"}`)) + "." +
		enc([]byte(`{"scope":"nimbus","tn":"acme\u3164corp","sub":"a\u2028b\u001b]0;x\u0007","iat":1700000000,"exp":1700000060}`)) + "." + enc(make([]byte, 32))
	code, stdout, stderr := runTTY(t, nil, "", "token", "inspect", tok, "--no-color")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{`"acme\u3164corp"`, `"a\u2028b\x1b]0;x\a"`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("inspect view lacks %s:\n%s", want, stdout)
		}
	}
	if strings.ContainsAny(stdout, "\u3164\u2028\x1b\a") {
		t.Errorf("raw character in the view: %q", stdout)
	}
}

// TestJSONIndentedOnTerminal: the same JSON documents as in a pipe, indented
// for a person at a terminal, on stdout and stderr alike.
func TestJSONIndentedOnTerminal(t *testing.T) {
	env := map[string]string{"JWT_SECRET": "0123456789abcdef0123456789abcdef"}
	code, stdout, _ := runTTY(t, env, "", "token", "mint", "--tenant", "acme", "--json")
	if code != 0 || !strings.HasPrefix(stdout, "{\n  \"token\": \"eyJ") || !strings.Contains(stdout, "\n  \"claims\": {\n    \"scope\": \"nimbus\",") {
		t.Errorf("mint --json on a terminal:\n%s", stdout)
	}
	code, stdout, _ = runTTY(t, env, "", "version", "--json")
	if code != 0 || !strings.HasPrefix(stdout, "{\n  \"version\": ") {
		t.Errorf("version --json on a terminal:\n%s", stdout)
	}
	code, _, stderr := runTTY(t, env, "", "token", "mint", "--json")
	want := "{\n  \"error\": \"--tenant required\",\n  \"code\": \"E_USAGE\",\n  \"hint\": \"pass the tenant id, e.g. --tenant acme\"\n}\n"
	if code != 64 || stderr != want {
		t.Errorf("error with --json on a terminal: %d\n%s\nwant\n%s", code, stderr, want)
	}
}

// TestDurationsReadTheSameEverywhere: a span of time reads the same in
// every command's human output ("1d", "1h", "15m"), as token mint writes
// it: doctor wrote Go's "24h0m0s" for the same token.
func TestDurationsReadTheSameEverywhere(t *testing.T) {
	secret := map[string]string{"JWT_SECRET": "0123456789abcdef0123456789abcdef"}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("NIMBUS_RELEASES_URL", "http://127.0.0.1:9/no-release-endpoint")
	t.Chdir(t.TempDir())
	for _, c := range []struct{ ttl, want string }{{"24h", "1d"}, {"1h", "1h"}, {"90m", "1h30m"}} {
		code, tok, stderr := runTTY(t, secret, "", "token", "mint", "--tenant", "acme", "--scopes", "sandbox:use", "--ttl", c.ttl, "--no-color")
		if code != 0 || !strings.Contains(stderr, "(in "+c.want+")") {
			t.Fatalf("mint --ttl %s: %d %q, want (in %s)", c.ttl, code, stderr, c.want)
		}
		t.Setenv("NIMBUS_TOKEN", strings.TrimSpace(tok))
		code, stdout, stderr := runTTY(t, nil, "", "doctor", "--no-version-check", "--no-color")
		if code != 0 || !strings.Contains(stdout+stderr, "sandbox:use, expires in "+c.want+"\n") {
			t.Fatalf("doctor with a %s token: %d, want 'expires in %s':\n%s%s", c.ttl, code, c.want, stdout, stderr)
		}
	}
}

// TestTokenViewsKeepTerminalControlsOut: token inspect shows claims of a
// token nobody vouches for, and verify shows scopes, which are never
// checked; a claim holding ESC, C1 or bidi controls must not reach the
// terminal as such (an OSC sequence retitles the window or writes the
// clipboard, CSI 2J clears the screen), only as visible escapes.
func TestTokenViewsKeepTerminalControlsOut(t *testing.T) {
	const secret = "nimbus-test-secret"
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	sign := func(payload string) string {
		in := header + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	hostile := func(s string) bool {
		return strings.ContainsAny(s, "\x1b\x07\u009b\u202e")
	}
	inspect := sign(`{"scope":"nimbus","tn":"acme\u001b]0;PWNED\u0007","sub":"x\u009b2J","scopes":["a\u001b[2Jb"],` +
		`"sid":"\u202egnp.exe","jti":"j\u001b[31m","k\u001b[1m":"v\u009b","iat":1750000000,"exp":1750003600}`)
	code, stdout, stderr := runTTY(t, nil, "", "token", "inspect", inspect, "--no-color")
	if code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, stderr)
	}
	if hostile(stdout) {
		t.Errorf("inspect wrote terminal controls from the token:\n%q", stdout)
	}
	for _, want := range []string{`acme\x1b]0;PWNED\a`, `x\u009b2J`, `a\x1b[2Jb`, `\u202egnp.exe`, `j\x1b[31m`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("inspect view lacks %s:\n%s", want, stdout)
		}
	}

	badHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256\u009b2J"}`)) + inspect[len(header):]
	code, stdout, stderr = runTTY(t, nil, "", "token", "inspect", badHeader, "--no-color")
	if code != 0 || hostile(stdout) || !strings.Contains(stdout, `\u009b2J`) {
		t.Errorf("inspect of a hostile header: exit %d %s\n%q", code, stderr, stdout)
	}

	verify := sign(`{"scope":"nimbus","tn":"acme","scopes":["sandbox:use","a\u001b]52;c;cm0gLXJmIH4=\u0007"],"iat":1750000000,"exp":1750003600}`)
	code, stdout, stderr = runTTY(t, map[string]string{"JWT_SECRET": secret}, "", "token", "verify", verify, "--no-color")
	if code != 0 {
		t.Fatalf("verify: exit %d: %s", code, stderr)
	}
	if hostile(stdout) || !strings.Contains(stdout, "sandbox:use") {
		t.Errorf("verify wrote terminal controls from the token:\n%q", stdout)
	}
}

// TestInspectManyClaimsOnTerminal: a token with a few thousand unknown
// claims (60 KB, small enough for an argument) is shown reading its
// payload once. The view re-read the whole payload for each claim (and
// each read compared every key with every other), so 5000 claims took
// minutes of CPU and gigabytes of allocation. Bytes allocated, unlike
// time, do not depend on the machine: the bound is 300 times the token.
func TestInspectManyClaimsOnTerminal(t *testing.T) {
	var p strings.Builder
	p.WriteString(`{"scope":"nimbus","tn":"acme","iat":1750000000,"exp":1750003600`)
	const n = 1500
	for i := range n {
		fmt.Fprintf(&p, `,"k%d":%d`, i, i)
	}
	p.WriteString("}")
	tok := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(p.String())) + "." + strings.Repeat("A", 43)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	code, stdout, stderr := runTTY(t, nil, "", "token", "inspect", tok, "--no-color")
	runtime.ReadMemStats(&after)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got := strings.Count(stdout, "\n  k"); got != n {
		t.Errorf("view shows %d unknown claims, want %d", got, n)
	}
	if !strings.Contains(stdout, "  k1499     1499\n") {
		t.Errorf("view lacks the last claim:\n%.300s", stdout)
	}
	if alloc, limit := after.TotalAlloc-before.TotalAlloc, uint64(300*len(tok)); alloc > limit {
		t.Errorf("inspect of a %d-byte token with %d claims allocated %d bytes, want at most %d", len(tok), n, alloc, limit)
	}
}
