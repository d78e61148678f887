package sandboxcli

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/config"
	"github.com/nimbus-sh/nimbus/internal/iostreams"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/job"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
	"github.com/nimbus-sh/nimbus/pkg/terminal"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

func exitOf(t *testing.T, err error) (int, string) {
	t.Helper()
	var ce *clierr.Error
	if !errors.As(err, &ce) {
		t.Fatalf("not a *clierr.Error: %T %v", err, err)
	}
	return ce.Exit, ce.Code
}

func TestTokenSourcePrecedenceAndMinting(t *testing.T) {
	now := time.Unix(1767225600, 0)
	dir := t.TempDir()
	file := filepath.Join(dir, "tok")
	os.WriteFile(file, []byte("from-file\n"), 0o600)
	ctx := context.Background()

	ts, err := Credentials{TokenFile: file, Token: "from-env", Secret: "s"}.TokenSource(true, "sandbox:use")
	if err != nil {
		t.Fatal(err)
	}
	if tok, _ := ts.Token(ctx, "job-1"); tok != "from-file" {
		t.Fatalf("token file must win, got %q", tok)
	}
	ts, _ = Credentials{Token: "from-env", Secret: "s"}.TokenSource(true)
	if tok, _ := ts.Token(ctx, "job-1"); tok != "from-env" {
		t.Fatalf("NIMBUS_TOKEN must beat minting, got %q", tok)
	}
	ts, err = Credentials{Secret: "s3cret", Tenant: "acme", Subject: "ci", Now: func() time.Time { return now }}.TokenSource(true, "sandbox:use", "session:destroy")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts.Token(ctx, "job-9")
	if err != nil {
		t.Fatal(err)
	}
	v, err := token.Verifier{Secret: "s3cret", Now: func() time.Time { return now }}.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	sid, _ := v.Claims.SessionID()
	scopes, _ := v.Claims.Scopes()
	if sid != "job-9" || !slices.Equal(scopes, []string{"sandbox:use", "session:destroy"}) || v.DOInstanceName != "acme:ci" {
		t.Fatalf("sid %q scopes %v do %q", sid, scopes, v.DOInstanceName)
	}
	if ttl := v.Claims.ExpiresTime().Sub(v.Claims.IssuedTime()); ttl != MintTTL {
		t.Fatalf("ttl %v", ttl)
	}
	// Unpinned (session new): no sid.
	ts, _ = Credentials{Secret: "s3cret", Tenant: "acme", Now: func() time.Time { return now }}.TokenSource(false, "session:create")
	tok, _ = ts.Token(ctx, "")
	v, _ = token.Verifier{Secret: "s3cret", Now: func() time.Time { return now }}.Verify(tok)
	if _, ok := v.Claims.SessionID(); ok {
		t.Fatal("unpinned token has a sid")
	}

	for _, c := range []struct {
		creds Credentials
		exit  int
		code  string
	}{
		{Credentials{}, 78, CodeNoCredential},
		{Credentials{Secret: "s"}, 78, clierr.CodeConfigMissing},
		{Credentials{TokenFile: filepath.Join(dir, "missing")}, 78, clierr.CodeConfigMissing},
	} {
		_, err := c.creds.TokenSource(true)
		if exit, code := exitOf(t, err); exit != c.exit || code != c.code {
			t.Fatalf("%+v: %d %s", c.creds, exit, code)
		}
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	if _, err := (Credentials{TokenFile: empty}).TokenSource(true); err == nil || strings.Contains(err.Error(), "from-file") {
		t.Fatalf("empty token file: %v", err)
	}
	// A bad tenant surfaces as the token error, never with the secret.
	ts, _ = Credentials{Secret: "topsecret", Tenant: "bad tenant!"}.TokenSource(true)
	if _, err := ts.Token(ctx, "job-1"); err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Fatalf("bad tenant: %v", err)
	}
}

func TestErrorMapping(t *testing.T) {
	cases := []struct {
		err  error
		exit int
		code string
	}{
		{&sc.RemoteError{Status: 401, Code: "E_TOKEN_EXPIRED", Message: "Token expired 3s ago"}, 77, "E_TOKEN_EXPIRED"},
		{&sc.RemoteError{Status: 403, Code: "E_SCOPE_MISSING"}, 77, "E_SCOPE_MISSING"},
		{&sc.RemoteError{Status: 403, Code: "E_SESSION_PIN_MISMATCH"}, 77, "E_SESSION_PIN_MISMATCH"},
		{&sc.RemoteError{Status: 403, Code: "E_RUNTIME_NOT_ALLOWED"}, 77, "E_RUNTIME_NOT_ALLOWED"},
		{&sc.RemoteError{Status: 400, Code: "E_ARG_SHAPE"}, 65, "E_ARG_SHAPE"},
		{&sc.RemoteError{Status: 400, Code: "E_REMOTE_OP"}, 76, "E_REMOTE_OP"},
		{&sc.RemoteError{Status: 503, Code: "E_NIMBUS_DO_OVERLOADED"}, 69, "E_NIMBUS_DO_OVERLOADED"},
		{&sc.RemoteError{Status: 500, Code: "E_NIMBUS_REMOTE_RPC", Message: "ENOENT: no such file"}, 65, "E_NIMBUS_REMOTE_RPC"},
		{&sc.RemoteError{Status: 500, Code: "E_NIMBUS_REMOTE_RPC", Message: "ESRCH: no such process, 42"}, 65, "E_NIMBUS_REMOTE_RPC"},
		{&sc.RemoteError{Status: 500, Code: "E_NIMBUS_REMOTE_RPC", Message: "EACCES: permission denied, open '/etc/x'"}, 77, "E_NIMBUS_REMOTE_RPC"},
		{&sc.RemoteError{Status: 500, Code: "E_NIMBUS_REMOTE_RPC", Message: "ENOSPC: no space left on device"}, 73, "E_NIMBUS_REMOTE_RPC"},
		{&sc.RemoteError{Status: 500, Code: "E_NIMBUS_REMOTE_RPC", Message: "boom"}, 65, "E_NIMBUS_REMOTE_RPC"},
		{&sc.RemoteError{Status: 500}, 70, "E_HTTP_500"},
		{&sc.RemoteError{Status: 404}, 65, "E_HTTP_404"},
		{&sc.RemoteError{Status: 502}, 69, "E_HTTP_502"},
		{&sc.Error{Code: sc.CodeAPINotEnabled}, 78, sc.CodeAPINotEnabled},
		{&sc.Error{Code: sc.CodeTransport}, 69, sc.CodeTransport},
		{&sc.Error{Code: sc.CodeBadResponse}, 76, sc.CodeBadResponse},
		{&sc.Error{Code: sc.CodeWriteTooLarge}, 65, sc.CodeWriteTooLarge},
		{&sc.Error{Code: sc.CodeSandboxID}, 64, sc.CodeSandboxID},
		{context.Canceled, 130, "E_INTERRUPTED"},
		{errors.New("surprise"), 70, clierr.CodeInternal},
	}
	for _, c := range cases {
		if exit, code := exitOf(t, Error(c.err)); exit != c.exit || code != c.code {
			t.Errorf("%v: got %d %s, want %d %s", c.err, exit, code, c.exit, c.code)
		}
	}
	for _, c := range []struct {
		err  error
		exit int
	}{
		{&sc.RemoteError{Status: 403, Code: "E_SCOPE_MISSING"}, 125},
		{&sc.Error{Code: sc.CodeStreamTruncated}, 125},
		{&sc.Error{Code: sc.CodeTransport, OutcomeUnknown: true}, 125},
		{clierr.Usagef("x"), 125},
		{context.Canceled, 130},
		{context.DeadlineExceeded, 124},
	} {
		if exit, _ := exitOf(t, ExecError(c.err)); exit != c.exit {
			t.Errorf("ExecError(%v) = %d, want %d", c.err, exit, c.exit)
		}
	}
}

// TestUnknownOutcomeHint: a request whose answer was lost with an HTTP/2
// connection another answer broke is E_TRANSPORT, exit 69 (125 for exec),
// and its hint says that it may have run, not to check that the Worker
// runs: it answered.
func TestUnknownOutcomeHint(t *testing.T) {
	err := Error(&sc.Error{Code: sc.CodeTransport, Message: "the connection broke under the request", OutcomeUnknown: true})
	var ce *clierr.Error
	if !errors.As(err, &ce) || ce.Exit != 69 || ce.Code != sc.CodeTransport || !strings.Contains(ce.Hint, "check whether it ran") || strings.Contains(ce.Hint, "reachable") {
		t.Fatalf("got %#v", err)
	}
}

func TestParseEnv(t *testing.T) {
	getenv := func(k string) string { return map[string]string{"TOKEN": "s3"}[k] }
	env, err := ParseEnv([]string{"A=1", "B=x=y", "C=", "TOKEN"}, getenv)
	if err != nil || env["A"] != "1" || env["B"] != "x=y" || env["C"] != "" || env["TOKEN"] != "s3" {
		t.Fatalf("%v %v", env, err)
	}
	for _, bad := range []string{"MISSING", "=x", "1A=2", "A-B=1"} {
		if _, err := ParseEnv([]string{bad}, getenv); err == nil {
			t.Fatalf("%q accepted", bad)
		} else if exit, _ := exitOf(t, err); exit != 64 {
			t.Fatalf("%q: exit %d", bad, exit)
		}
	}
	if env, err := ParseEnv(nil, getenv); env != nil || err != nil {
		t.Fatal("empty")
	}
}

func TestEventWriter(t *testing.T) {
	var b bytes.Buffer
	w := NewEventWriter(&b)
	w.Stream("stdout").Write([]byte("a<b>\n"))
	w.Stream("stderr").Write([]byte("\xff\xfe"))
	w.Stream("stdout").Write(nil)
	w.Exit("3", 41)
	want := `{"type":"stdout","data":"a<b>\n"}` + "\n" + "{\"type\":\"stderr\",\"data\":\"\uFFFD\uFFFD\"}" + "\n" + `{"type":"exit","code":3,"duration":41}` + "\n"
	if b.String() != want {
		t.Fatalf("got %q want %q", b.String(), want)
	}
}

// TestHTTPTimeout: the HTTP timeout is read with the one duration parser,
// from NIMBUS_HTTP_TIMEOUT or the config file's http_timeout (also spelled
// http-timeout); 0 disables it and nonsense is a configuration error.
func TestHTTPTimeout(t *testing.T) {
	load := func(env, file string) (*config.Config, error) {
		dir := t.TempDir()
		if file != "" {
			if err := os.WriteFile(filepath.Join(dir, config.ProjectFile), []byte(file), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return config.Load(config.Options{Dir: dir, Getenv: func(k string) string {
			if k == "NIMBUS_HTTP_TIMEOUT" {
				return env
			}
			return ""
		}})
	}
	for in, want := range map[string]time.Duration{
		"": 30 * time.Second, "45s": 45 * time.Second, "2m": 2 * time.Minute, " 1m30s ": 90 * time.Second,
		"45": 45 * time.Second, "2.5": 2500 * time.Millisecond, "0": -1, "0s": -1, "1e-3": time.Millisecond, "1d": 24 * time.Hour,
	} {
		cfg, err := load(in, "")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := HTTPTimeout(cfg); err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"soon", "-1", "-5s", "NaN", "Inf", "1e300", "5 s", "30sec", "0x10"} {
		cfg, err := load(in, "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = HTTPTimeout(cfg)
		if code, name := exitOf(t, err); code != 78 || name != "E_CONFIG_INVALID" || !strings.Contains(err.Error(), "NIMBUS_HTTP_TIMEOUT") {
			t.Errorf("%q: %d %s %v", in, code, name, err)
		}
	}
	for file, want := range map[string]time.Duration{"http_timeout: 300ms\n": 300 * time.Millisecond, "http-timeout: 0.4\n": 400 * time.Millisecond} {
		cfg, err := load("", file)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := HTTPTimeout(cfg); err != nil || got != want {
			t.Errorf("file %q: %v %v, want %v", file, got, err, want)
		}
		if cfg, _ = load("2s", file); cfg != nil {
			if got, _ := HTTPTimeout(cfg); got != 2*time.Second {
				t.Errorf("file %q with NIMBUS_HTTP_TIMEOUT=2s: %v, the environment wins", file, got)
			}
		}
	}
}

// TestFilesystemErrnoHints: the errno of a failed operation picks the hint;
// ENOENT of a chdir is a missing --cwd, not a write's missing parent, and
// ENOTDIR and EEXIST had no hint at all.
func TestFilesystemErrnoHints(t *testing.T) {
	for msg, want := range map[string]string{
		"ENOENT: no such file or directory, chdir '/home/user/nope'": "check --cwd",
		"ENOENT: no such file or directory, open '/home/user/x'":     "the path does not exist in the sandbox",
		"ENOTDIR: not a directory, rm '/home/user/keep.txt/x'":       "a part of the path is a file, not a directory",
		"EEXIST: file already exists, mkdir '/home/user/keep.txt'":   "the path exists already",
		"ENOTEMPTY: directory not empty, rmdir '/home/user/a'":       "add -r",
	} {
		err := Error(&sc.RemoteError{Op: "execStream", Status: 500, Code: "E_NIMBUS_REMOTE_RPC", Message: msg})
		var ce *clierr.Error
		if !errors.As(err, &ce) || !strings.Contains(ce.Hint, want) {
			t.Errorf("%s: hint %q, want %q", msg, ce.Hint, want)
		}
	}
}

// TestTokenSignatureHintNamesTheServer: E_TOKEN_SIGNATURE from a server on
// this machine (nimbus dev) points at 'nimbus dev token'; from any other
// host, at the Worker's JWT_SECRET.
func TestTokenSignatureHintNamesTheServer(t *testing.T) {
	for host, want := range map[string]string{
		"127.0.0.1:8787":        "nimbus dev token",
		"[::1]:8787":            "nimbus dev token",
		"localhost:8787":        "nimbus dev token",
		"my-nimbus.workers.dev": "JWT_SECRET matches the Worker's",
		"":                      "JWT_SECRET matches the Worker's",
	} {
		err := Error(&sc.RemoteError{Op: "exists", Status: 401, Code: "E_TOKEN_SIGNATURE", Message: "Token signature invalid", Host: host})
		var ce *clierr.Error
		if !errors.As(err, &ce) || !strings.Contains(ce.Hint, want) {
			t.Errorf("host %q: hint %q, want %q", host, ce.Hint, want)
		}
	}
}

// TestHintsNameTheSandbox: a hint's command names the sandbox it failed
// in, quoted for a POSIX shell, so that it runs when pasted; a real shell
// reads each quoted id back as one word. Error, which does not know the
// sandbox, keeps the placeholder ID.
func TestHintsNameTheSandbox(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("no sh on PATH: %v", err)
	}
	noProcess := &sc.RemoteError{Op: "processLogs", Status: 500, Code: sc.CodeRemoteRPC, Message: "no such process: 42"}
	for _, c := range []struct {
		id, want string
	}{
		{"", "no such process; list processes with nimbus sandbox ps ID"},
		{"ci-123", "no such process; list processes with nimbus sandbox ps ci-123"},
		{"ci 123", "no such process; list processes with nimbus sandbox ps 'ci 123'"},
		{"it's", `no such process; list processes with nimbus sandbox ps 'it'\''s'`},
		{"$(touch x)", "no such process; list processes with nimbus sandbox ps '$(touch x)'"},
	} {
		var ce *clierr.Error
		if !errors.As(ErrorIn(c.id, noProcess), &ce) || ce.Hint != c.want {
			t.Errorf("ErrorIn(%q): hint %q, want %q", c.id, ce.Hint, c.want)
		}
		if !errors.As(ExecErrorIn(c.id, noProcess), &ce) || ce.Hint != c.want {
			t.Errorf("ExecErrorIn(%q): hint %q, want %q", c.id, ce.Hint, c.want)
		}
		if c.id == "" {
			continue
		}
		// The pasted command, with printf in place of nimbus, prints its
		// words: the last is the id, whole, and nothing in it ran.
		cmdline := strings.TrimPrefix(ce.Hint, "no such process; list processes with nimbus ")
		dir := t.TempDir()
		run := exec.Command(sh, "-c", "printf '%s\\n' "+cmdline)
		run.Dir = dir
		got, err := run.Output()
		if err != nil {
			t.Fatalf("%s: %v", cmdline, err)
		}
		words := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
		if len(words) != 3 || words[2] != c.id {
			t.Errorf("%q read back by sh as %q", cmdline, words)
		}
		if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
			t.Errorf("%q: the id ran as a command", cmdline)
		}
	}
}

// TestHintsNamePaths: the directories hints name are quoted as the id is.
func TestHintsNamePaths(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&transfer.Error{Code: transfer.CodeNotFound, Message: "/home/user/a b/x: no such file or directory in the sandbox", Dir: "/home/user/a b", Remote: true},
			"check the source path: nimbus sandbox files ls job-1 '/home/user/a b' lists what the sandbox has there (relative paths start at --root, /home/user by default)"},
		{&transfer.Error{Code: transfer.CodeNotFound, Message: "./x: no such file or directory"},
			"check the source path; nimbus sandbox files ls job-1 DIR lists the sandbox side (relative paths start at --root, /home/user by default)"},
		{&transfer.Error{Code: transfer.CodeNoParent, Message: "cannot copy there", Dir: "/home/user/it's", Remote: true},
			`check the destination: '/home/user/it'\''s' does not exist in the sandbox; create it (nimbus sandbox files mkdir job-1 '/home/user/it'\''s'), or pass --mkpath to create missing directories`},
		{&sc.RemoteError{Op: "execStream", Status: 500, Code: sc.CodeRemoteRPC, Message: "ENOENT: no such file or directory, chdir '/home/user/my app'"},
			"the working directory does not exist in the sandbox: check --cwd (relative paths are resolved against --root), or create it with nimbus sandbox files mkdir job-1 '/home/user/my app'"},
		{&sc.RemoteError{Op: "execStream", Status: 500, Code: sc.CodeRemoteRPC, Message: "ENOENT: no such file or directory, chdir '"},
			"the working directory does not exist in the sandbox: check --cwd (relative paths are resolved against --root), or create it with nimbus sandbox files mkdir job-1 DIR"},
		{&sc.RemoteError{Op: "readFile", Status: 500, Code: sc.CodeRemoteRPC, Message: "ENOENT: no such file or directory, open '/home/user/x'"},
			"the path does not exist in the sandbox (writes need the parent directory: nimbus sandbox files mkdir job-1 DIR)"},
		{&sc.RemoteError{Status: 401, Code: "E_TOKEN_EXPIRED", Message: "Token expired", Host: "nimbus.example.workers.dev"},
			"the Worker rejected the token; mint a fresh one (nimbus token mint --tenant T --scopes sandbox:use --sid job-1) or check JWT_SECRET matches the Worker's"},
		{&job.RuntimeError{Spec: "python@9", ExitCode: 1},
			"check the spec name and version with nimbus sandbox runtimes list job-1"},
	} {
		var ce *clierr.Error
		if !errors.As(ErrorIn("job-1", c.err), &ce) || ce.Hint != c.want {
			t.Errorf("%v: hint\n%q, want\n%q", c.err, ce.Hint, c.want)
		}
	}
}

// TestReadNotFoundHint: a read of a missing path (files read, ls, stat) is
// told to list the directory that should hold it, named and quoted; the
// hint of a write's missing path is not about reads.
func TestReadNotFoundHint(t *testing.T) {
	enoent := &sc.RemoteError{Op: "readFile", Status: 500, Code: sc.CodeRemoteRPC, Message: "ENOENT: no such file or directory, open '/home/user/my app/x'"}
	for _, c := range []struct {
		h    Hints
		want string
	}{
		{Hints{ID: "job-1", Read: "/home/user/my app/x"},
			"the path does not exist in the sandbox: nimbus sandbox files ls job-1 '/home/user/my app' lists its directory (relative paths are resolved against --root)"},
		{Hints{ID: "job-1", Read: "/home/user/x"},
			"the path does not exist in the sandbox: nimbus sandbox files ls job-1 /home/user lists its directory (relative paths are resolved against --root)"},
		{Hints{Read: "/x"},
			"the path does not exist in the sandbox: nimbus sandbox files ls ID / lists its directory (relative paths are resolved against --root)"},
		{Hints{ID: "job-1"},
			"the path does not exist in the sandbox (writes need the parent directory: nimbus sandbox files mkdir job-1 DIR)"},
	} {
		var ce *clierr.Error
		if !errors.As(c.h.Error(enoent), &ce) || ce.Hint != c.want {
			t.Errorf("%+v: hint\n%q, want\n%q", c.h, ce.Hint, c.want)
		}
		if !errors.As(c.h.ExecError(enoent), &ce) || ce.Hint != c.want {
			t.Errorf("%+v: exec hint\n%q, want\n%q", c.h, ce.Hint, c.want)
		}
	}
}

// TestRejectedTokenHintNamesTheTenant: the rejected-token hint mints for
// the tenant and subject the command resolved, quoted, and T only when
// none is known; the subject matters, as the sandbox a token reaches is the
// tenant's and the subject's.
func TestRejectedTokenHintNamesTheTenant(t *testing.T) {
	rejected := &sc.RemoteError{Status: 401, Code: "E_TOKEN_EXPIRED", Message: "Token expired", Host: "nimbus.example.workers.dev"}
	for _, c := range []struct {
		h    Hints
		want string
	}{
		{Hints{ID: "job-1", Tenant: "acme"},
			"the Worker rejected the token; mint a fresh one (nimbus token mint --tenant acme --scopes sandbox:use --sid job-1) or check JWT_SECRET matches the Worker's"},
		{Hints{ID: "job-1", Tenant: "acme", Subject: "ci bot"},
			"the Worker rejected the token; mint a fresh one (nimbus token mint --tenant acme --sub 'ci bot' --scopes sandbox:use --sid job-1) or check JWT_SECRET matches the Worker's"},
		{Hints{ID: "job-1", Tenant: "it's"},
			`the Worker rejected the token; mint a fresh one (nimbus token mint --tenant 'it'\''s' --scopes sandbox:use --sid job-1) or check JWT_SECRET matches the Worker's`},
	} {
		var ce *clierr.Error
		if !errors.As(c.h.Error(rejected), &ce) || ce.Hint != c.want {
			t.Errorf("%+v: hint\n%q, want\n%q", c.h, ce.Hint, c.want)
		}
	}
}

// TestRejectedTokenHintNamesTheScopes: the rejected-token hint mints the
// scopes the failed operation needs (destroy: session:destroy too), and
// no pin for an operation on no one sandbox (session new).
func TestRejectedTokenHintNamesTheScopes(t *testing.T) {
	rejected := &sc.RemoteError{Status: 401, Code: "E_TOKEN_EXPIRED", Message: "Token expired", Host: "nimbus.example.workers.dev"}
	for _, c := range []struct {
		h    Hints
		want string
	}{
		{Hints{ID: "job-1", Tenant: "acme", Scopes: []string{"sandbox:use", "session:destroy"}},
			"the Worker rejected the token; mint a fresh one (nimbus token mint --tenant acme --scopes sandbox:use,session:destroy --sid job-1) or check JWT_SECRET matches the Worker's"},
		{Hints{ID: "job-1", Scopes: []string{"sandbox:use", "session:attach"}},
			"the Worker rejected the token; mint a fresh one (nimbus token mint --tenant T --scopes sandbox:use,session:attach --sid job-1) or check JWT_SECRET matches the Worker's"},
		{Hints{Tenant: "acme", Scopes: []string{"session:create"}, Unpinned: true},
			"the Worker rejected the token; mint a fresh one (nimbus token mint --tenant acme --scopes session:create) or check JWT_SECRET matches the Worker's"},
		{Hints{ID: "job-1"},
			"the Worker rejected the token; mint a fresh one (nimbus token mint --tenant T --scopes sandbox:use --sid job-1) or check JWT_SECRET matches the Worker's"},
	} {
		var ce *clierr.Error
		if !errors.As(c.h.Error(rejected), &ce) || ce.Hint != c.want {
			t.Errorf("%+v: hint\n%q, want\n%q", c.h, ce.Hint, c.want)
		}
	}
}

// TestDestroyedSandboxHints: once the sandbox is destroyed (a run without
// --keep), a hint that named a command on it says it was destroyed
// instead; hints that name no command on it stay.
func TestDestroyedSandboxHints(t *testing.T) {
	gone := Hints{ID: "job-1", Destroyed: true}
	const destroyed = "sandbox job-1 was destroyed at the end of the run, so nothing in it can be looked at: run again with --keep to keep the sandbox for a look (then nimbus sandbox destroy it)"
	for _, c := range []struct {
		err  error
		want string
	}{
		{&job.RuntimeError{Spec: "python@9", ExitCode: 1},
			"check the spec name and version (NAME or NAME@VERSION); sandbox job-1 was destroyed at the end of the run: to list the runtimes a sandbox offers, run again with --keep and use nimbus sandbox runtimes list on the kept sandbox"},
		{&transfer.Error{Code: transfer.CodeNotFound, Message: "/home/user/x: no such file or directory in the sandbox", Dir: "/home/user", Remote: true}, destroyed},
		{&sc.RemoteError{Op: "execStream", Status: 500, Code: sc.CodeRemoteRPC, Message: "ENOENT: no such file or directory, chdir '/home/user/app'"}, destroyed},
		{&sc.RemoteError{Op: "processLogs", Status: 500, Code: sc.CodeRemoteRPC, Message: "ESRCH: no such process"}, destroyed},
		// No command on the sandbox: kept as it is.
		{&sc.RemoteError{Status: 401, Code: "E_TOKEN_EXPIRED", Message: "Token expired", Host: "nimbus.example.workers.dev"},
			"the Worker rejected the token; mint a fresh one (nimbus token mint --tenant T --scopes sandbox:use --sid job-1) or check JWT_SECRET matches the Worker's"},
		{&transfer.Error{Code: transfer.CodeChanged, Message: "changed"}, "the file changed while it was copied; copy it again once it is complete"},
	} {
		var ce *clierr.Error
		if !errors.As(gone.ExecError(c.err), &ce) || ce.Hint != c.want {
			t.Errorf("%v: hint\n%q, want\n%q", c.err, ce.Hint, c.want)
		}
	}
	// A hint whose example names another sandbox is kept: its id being
	// a word of the example (cp) is no command on it.
	var ce *clierr.Error
	if want := "write the sandbox side as ID:PATH, e.g. nimbus sandbox cp ./dist job-1:/home/user/dist; prefix a local path containing ':' with ./; an empty path is refused (ID:. is the sandbox's root, . the current directory)"; !errors.As((Hints{ID: "cp", Destroyed: true}).Error(&transfer.Error{Code: transfer.CodeBadTarget, Message: "m"}), &ce) || ce.Hint != want {
		t.Errorf("bad target in sandbox cp: hint %q, want %q", ce.Hint, want)
	}
}

// commandsOn returns the nimbus commands in hint that name sandbox id (a
// word that is the id, as ArgID writes it, or starts with it and a ':'),
// each up to the ')', ';' or ',' that ends it; a mint command's --sid
// touches no sandbox.
func commandsOn(hint, id string) []string {
	var found []string
	arg := ArgID(id)
	for rest := hint; ; {
		i := strings.Index(rest, "nimbus ")
		if i < 0 {
			return found
		}
		rest = rest[i+len("nimbus "):]
		line := rest
		if end := strings.IndexAny(line, ");,"); end >= 0 {
			line = line[:end]
		}
		if strings.HasPrefix(line, "token ") {
			continue
		}
		for _, w := range strings.Fields(line) {
			if w == arg || strings.HasPrefix(w, arg+":") {
				found = append(found, "nimbus "+line)
				break
			}
		}
	}
}

// TestNoHintNamesADestroyedSandbox goes over every kind of hint of the
// sandbox commands (Error, ExecError, AttachError), for a sandbox that is
// there and for one the run destroyed: once destroyed, none names a
// command on its id (pasted, it would create a new, empty sandbox with
// it), whatever function built the hint. The live ones that do show the
// list covers them.
func TestNoHintNamesADestroyedSandbox(t *testing.T) {
	const id = "run-7q"
	var errs []error
	for _, code := range []string{transfer.CodeIsDirectory, transfer.CodeNotFound, transfer.CodeBadTarget, transfer.CodeNoName,
		transfer.CodeLocalIO, transfer.CodeVerify, transfer.CodeJoin, transfer.CodeConflict, transfer.CodeUnsafePath,
		transfer.CodeIgnoreFile, transfer.CodeNoParent, transfer.CodeChanged} {
		errs = append(errs, &transfer.Error{Code: code, Message: "m", Dir: "/home/user/d", Remote: true},
			&transfer.Error{Code: code, Message: "m", Dir: "d", Remote: false},
			&transfer.Error{Code: code, Message: "m"})
	}
	errs = append(errs,
		&transfer.PartialError{Failures: []transfer.Failure{{Err: errors.New("x")}}},
		&job.RuntimeError{Spec: "python@9", ExitCode: 1},
		context.Canceled, context.DeadlineExceeded, errors.New("surprise"))
	for _, status := range []int{400, 401, 403, 404, 408, 413, 429, 500, 502, 503} {
		for _, code := range []string{"", "E_TOKEN_MALFORMED", "E_TOKEN_SIGNATURE", "E_TOKEN_CLAIMS", "E_TOKEN_EXPIRED", "E_SCOPE_MISSING",
			"E_SESSION_PIN_MISMATCH", "E_BOOTSTRAP_CONSUMED", "E_ANON_SESSION_TTL", "E_RUNTIME_NOT_ALLOWED", "E_RUNTIME_ON_DEMAND_DISABLED",
			"E_AUTH_CONFIG_MISSING", "E_NIMBUS_BINDING_MISSING", sc.CodeRemoteOp, "E_METHOD_NOT_ALLOWED", "E_BAD_JSON", "E_SANDBOX_ID",
			"E_ARG_SHAPE", "E_TOKEN_TTL_TOO_LARGE", "E_NIMBUS_DO_OVERLOADED", "E_NIMBUS_DO_CODE_UPDATED", "E_AUTH_UNKNOWN"} {
			errs = append(errs, &sc.RemoteError{Status: status, Code: code, Message: "Missing required scope: sandbox:use", Host: "127.0.0.1"})
		}
		for _, message := range []string{"ENOENT: no such file or directory, open '/x'", "ENOENT: no such file or directory, chdir '/home/user/app'",
			"ENOTDIR: x", "EEXIST: x", "EISDIR: x", "ENOTEMPTY: x", "ENOSPC: x", "EDQUOT: x", "EFBIG: x", "EACCES: x", "EPERM: x", "EROFS: x",
			"ESRCH: no such process", "no such process: 42"} {
			errs = append(errs, &sc.RemoteError{Status: status, Code: sc.CodeRemoteRPC, Message: message})
		}
	}
	for _, code := range []string{sc.CodeAPINotEnabled, sc.CodeBadResponse, sc.CodeStreamProtocol, sc.CodeWriteTooLarge, sc.CodeInvalidArgument,
		sc.CodeSandboxID, sc.CodeInvalidToken, sc.CodeExecFailed, sc.CodeFileChanged, sc.CodeTransport, sc.CodeHTTPTimeout, sc.CodeGateway,
		sc.CodeStreamTruncated, sc.CodeTimeout} {
		errs = append(errs, &sc.Error{Code: code, Message: "m"})
	}
	for _, code := range []string{terminal.CodeBusy, terminal.CodeTakenOver, terminal.CodeUnavailable, terminal.CodeHandshake, terminal.CodeProtocol,
		terminal.CodeClosedEarly, terminal.CodeInterrupted, terminal.CodeInput, terminal.CodeInvalidArgument} {
		errs = append(errs, &terminal.Error{Code: code, Message: "m"})
	}
	for _, code := range []string{"E_SCOPE_MISSING", "E_SESSION_PIN_MISMATCH", "E_TOKEN_EXPIRED", "E_CROSS_SITE_REFUSED"} {
		errs = append(errs, &terminal.Error{Code: code, Status: 403, Message: "m"})
	}
	live := 0
	for _, read := range []string{"", "/home/user/x"} {
		for _, err := range errs {
			for _, destroyed := range []bool{false, true} {
				h := Hints{ID: id, Read: read, Tenant: "acme", Destroyed: destroyed}
				for name, mapped := range map[string]error{"Error": h.Error(err), "ExecError": h.ExecError(err), "AttachError": AttachError(err, h)} {
					var ce *clierr.Error
					if !errors.As(mapped, &ce) {
						t.Fatalf("%s(%#v): %T", name, err, mapped)
					}
					on := commandsOn(ce.Hint, id)
					switch {
					case !destroyed && len(on) > 0:
						live++
					case destroyed && len(on) > 0:
						t.Errorf("%s(%#v) of a destroyed sandbox names %q in its hint\n%q", name, err, on, ce.Hint)
					}
					// session attach destroyed no sandbox at the end of a
					// run: the server ended the session, and the way on
					// is a new one, not --keep.
					if name == "AttachError" && destroyed && (strings.Contains(ce.Hint, "--keep") || strings.Contains(ce.Hint, "end of the run")) {
						t.Errorf("AttachError(%#v) of a destroyed session speaks of a run\n%q", err, ce.Hint)
					}
				}
			}
		}
	}
	// The hints the commands build themselves (cmd/sandbox) go through
	// the same renderer, and so do session attach's.
	for _, attached := range []bool{false, true} {
		for _, destroyed := range []bool{false, true} {
			h := Hints{ID: id, Tenant: "acme", Destroyed: destroyed, attached: attached}
			// files read's refusal of binary bytes on a terminal.
			ios, _, _, _ := iostreams.Test()
			ios.SetStdoutTTY(true)
			w, finish := TerminalOutput(ios, h, "/home/user/x.bin")
			_, _ = w.Write([]byte{0, 1, 2})
			var notText *clierr.Error
			if !errors.As(finish(nil), &notText) {
				t.Fatal("TerminalOutput let binary bytes through to a terminal")
			}
			for name, hint := range map[string]string{
				"OnSandbox":          h.OnSandbox(func(arg string) string { return "check it with nimbus sandbox ps " + arg }),
				"NoProcessHint":      h.NoProcessHint(),
				"RuntimeInstallHint": h.RuntimeInstallHint(),
				"ReadNotFoundHint":   h.ReadNotFoundHint("/home/user/x"),
				"TerminalOutput":     notText.Hint,
			} {
				switch on := commandsOn(hint, id); {
				case !destroyed && len(on) == 0:
					t.Errorf("%s of a sandbox that is there names no command on it\n%q", name, hint)
				case destroyed && len(on) > 0:
					t.Errorf("%s of a destroyed sandbox names %q in its hint\n%q", name, on, hint)
				}
			}
		}
	}
	if live < 10 {
		t.Errorf("only %d hints of a sandbox that is there name a command on it: the list misses kinds", live)
	}
	// The terminal of a script's attach ended by the session's destroy
	// (E_TERMINAL_CLOSED_EARLY, close reason "session destroyed").
	var ce *clierr.Error
	closed := &terminal.Error{Code: terminal.CodeClosedEarly, Message: "the server closed the terminal (session destroyed) before the input ended", CloseReason: "session destroyed"}
	if !errors.As(AttachError(closed, Hints{ID: id, Destroyed: true}), &ce) {
		t.Fatal("AttachError: not a clierr.Error")
	}
	if want := "session " + id + " was destroyed, and its shell, files and processes with it: nothing of what the input ran is left to check; start a new session (nimbus session new prints its id) and run the input again there"; ce.Hint != want {
		t.Errorf("hint of a destroyed session\n got %q\nwant %q", ce.Hint, want)
	}
}

// The scope hint repeats the scope the Worker names, in both of its
// message forms, and never copies anything else from the answer into the
// command it suggests.
func TestScopeHintFromWorkerMessages(t *testing.T) {
	h := Hints{ID: "job-1", Tenant: "acme", Scopes: []string{"sandbox:use", "session:destroy"}}
	for _, c := range []struct{ message, want string }{
		{"Missing required scope: sandbox:use", "the token lacks the sandbox:use scope: mint one with it (nimbus token mint --tenant acme --scopes sandbox:use,session:destroy --sid job-1), or let nimbus mint one (JWT_SECRET and --tenant)"},
		{"Nimbus token missing required scope: session:destroy or session:admin", "the token lacks the session:destroy scope: mint one with it (nimbus token mint --tenant acme --scopes sandbox:use,session:destroy --sid job-1), or let nimbus mint one (JWT_SECRET and --tenant)"},
		{"Missing required scope: session:create", "the token lacks the session:create scope: mint one with it (nimbus token mint --tenant acme --scopes sandbox:use,session:destroy,session:create --sid job-1), or let nimbus mint one (JWT_SECRET and --tenant)"},
		{"Missing required scope: $(touch x)", "the token lacks a scope: sandbox commands need sandbox:use, destroy also session:destroy"},
		{"Missing required scope: sandbox:use;rm", "the token lacks a scope: sandbox commands need sandbox:use, destroy also session:destroy"},
		{"forbidden", "the token lacks a scope: sandbox commands need sandbox:use, destroy also session:destroy"},
	} {
		if got := h.scopeHint(c.message); got != c.want {
			t.Errorf("%q:\n got %q\nwant %q", c.message, got, c.want)
		}
	}
}

// givenToken is a token with the claims payload (a JSON object), as a
// user would give one: decodable, its signature not checked here.
func givenToken(payload string) sc.StaticToken {
	enc := base64.RawURLEncoding.EncodeToString
	return sc.StaticToken(enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(payload)) + "." + enc([]byte("signature-not-checked-here")))
}

// TestMintHintsNameTheGivenToken: with a token the user gave, the mint
// hints name its tenant and subject, not the ones the command resolved,
// so that what they mint is a token like it; claims mint would refuse, or
// a shell would read, are not copied (the resolved ones are named), and
// the token itself never is.
func TestMintHintsNameTheGivenToken(t *testing.T) {
	scope := &sc.RemoteError{Status: 403, Code: "E_SCOPE_MISSING", Message: "Missing required scope: session:destroy"}
	resolved := Hints{ID: "job-1", Tenant: "globex", Subject: "bob"}
	for _, c := range []struct {
		tokens sc.TokenSource
		mint   string
	}{
		{givenToken(`{"scope":"nimbus","tn":"acme","sub":"ci","scopes":["sandbox:use"],"iat":1,"exp":4102444800}`),
			"nimbus token mint --tenant acme --sub ci --scopes sandbox:use,session:destroy --sid job-1"},
		// No subject: none, though the command resolved one.
		{givenToken(`{"scope":"nimbus","tn":"acme","scopes":["sandbox:use"],"iat":1,"exp":4102444800}`),
			"nimbus token mint --tenant acme --scopes sandbox:use,session:destroy --sid job-1"},
		// What is not an id is not copied into a command to paste.
		{givenToken(`{"scope":"nimbus","tn":"$(touch x)","sub":"ci","iat":1,"exp":4102444800}`),
			"nimbus token mint --tenant globex --sub bob --scopes sandbox:use,session:destroy --sid job-1"},
		{givenToken(`{"scope":"nimbus","tn":"acme","sub":"c i;rm","iat":1,"exp":4102444800}`),
			"nimbus token mint --tenant globex --sub bob --scopes sandbox:use,session:destroy --sid job-1"},
		{givenToken(`{"scope":"nimbus","sub":"ci","iat":1,"exp":4102444800}`),
			"nimbus token mint --tenant globex --sub bob --scopes sandbox:use,session:destroy --sid job-1"},
		// Not a token: the resolved ones; and so for tokens nimbus mints.
		{sc.StaticToken("not.a.token"), "nimbus token mint --tenant globex --sub bob --scopes sandbox:use,session:destroy --sid job-1"},
		{sc.TokenFunc(func(context.Context, string) (string, error) { return "", nil }),
			"nimbus token mint --tenant globex --sub bob --scopes sandbox:use,session:destroy --sid job-1"},
	} {
		h := resolved.WithToken(c.tokens)
		var ce *clierr.Error
		if !errors.As(h.Error(scope), &ce) || !strings.Contains(ce.Hint, "("+c.mint+")") {
			t.Errorf("hint\n%q, want the command\n%q", ce.Hint, c.mint)
		}
		if tok, ok := c.tokens.(sc.StaticToken); ok && strings.Contains(ce.Hint, string(tok)) {
			t.Errorf("the hint shows the token: %q", ce.Hint)
		}
		// session attach's hints mint alike.
		attach := strings.Replace(c.mint, "sandbox:use,session:destroy", "session:attach", 1)
		if !errors.As(AttachError(&terminal.Error{Code: "E_SCOPE_MISSING", Status: 403}, h), &ce) || !strings.Contains(ce.Hint, attach) {
			t.Errorf("attach hint\n%q, want the command\n%q", ce.Hint, attach)
		}
	}
}

// TestPinHintNamesBothSandboxes: a token pinned (sid) to another sandbox
// is told which one (the given token's sid claim, only when it is an id:
// it is not verified) and the whole mint command of a token for this one,
// with the scopes the command needs; session attach's says so of
// sessions.
func TestPinHintNamesBothSandboxes(t *testing.T) {
	pin := &sc.RemoteError{Status: 403, Code: "E_SESSION_PIN_MISMATCH", Message: `Token pinned to session "other-job" but request targets "job-1"`}
	pinned := givenToken(`{"scope":"nimbus","tn":"acme","sub":"ci","scopes":["sandbox:use"],"sid":"other-job","iat":1,"exp":4102444800}`)
	for _, c := range []struct {
		h    Hints
		want string
	}{
		{Hints{ID: "job-1", Tenant: "globex"}.WithToken(pinned),
			"the token is pinned (sid) to sandbox other-job, not job-1; mint one for job-1: nimbus token mint --tenant acme --sub ci --scopes sandbox:use --sid job-1"},
		{Hints{ID: "job-1", Scopes: []string{"sandbox:use", "session:destroy"}}.WithToken(pinned),
			"the token is pinned (sid) to sandbox other-job, not job-1; mint one for job-1: nimbus token mint --tenant acme --sub ci --scopes sandbox:use,session:destroy --sid job-1"},
		{Hints{}.WithToken(pinned),
			"the token is pinned (sid) to sandbox other-job, not this sandbox; mint one for this sandbox: nimbus token mint --tenant acme --sub ci --scopes sandbox:use --sid ID"},
		// A sid that is not an id is not repeated.
		{Hints{ID: "job-1"}.WithToken(givenToken(`{"scope":"nimbus","tn":"acme","sid":"$(touch x)","iat":1,"exp":4102444800}`)),
			"the token is pinned (sid) to another sandbox, not job-1; mint one for job-1: nimbus token mint --tenant acme --scopes sandbox:use --sid job-1"},
		// No token to read (nimbus minted it, or it does not decode).
		{Hints{ID: "job-1", Tenant: "acme"},
			"the token is pinned (sid) to another sandbox, not job-1; mint one for job-1: nimbus token mint --tenant acme --scopes sandbox:use --sid job-1"},
	} {
		var ce *clierr.Error
		if !errors.As(c.h.Error(pin), &ce) || ce.Hint != c.want {
			t.Errorf("hint\n%q, want\n%q", ce.Hint, c.want)
		}
	}
	var ce *clierr.Error
	want := "the token is pinned (sid) to session other-job, not job-1; mint one for job-1: nimbus token mint --tenant acme --sub ci --scopes session:attach --sid job-1"
	if !errors.As(AttachError(&terminal.Error{Code: "E_SESSION_PIN_MISMATCH", Status: 403}, Hints{ID: "job-1"}.WithToken(pinned)), &ce) || ce.Hint != want {
		t.Errorf("attach hint\n%q, want\n%q", ce.Hint, want)
	}
}
