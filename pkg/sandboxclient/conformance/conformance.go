// Package conformance is the end-to-end suite of the sandbox client that
// every server speaking the remote sandbox API must pass. It runs against
// the local backend of package localsandbox, over HTTP and in process, and
// through the fault middleware of package sandboxtest with exec streams
// split at any byte.
//
// The commands used stay within what both servers run: echo, printf, cat,
// pwd, cd, export, printenv, exit, sleep, seq, ls, mkdir -p, redirections
// ">&2" and "> FILE". Host-dependent output (pwd on a backend whose paths
// are host paths) is compared by suffix.
package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// Backend is a running server under test.
type Backend struct {
	// URL is the endpoint (origin) of the server.
	URL string
	// HTTPClient reaches it; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Secret is the JWT_SECRET the server verifies tokens with.
	Secret string
	// PreviewHosts says the server names its preview host suffix
	// (sc.PreviewHostSuffixHeader: nimbus dev under a loopback name), so
	// the client builds preview host URLs on the endpoint's port; a
	// Worker names none, and the URLs are path doors.
	PreviewHosts bool
}

// NewBackend starts a fresh, empty server for one test and arranges its
// shutdown with t.Cleanup.
type NewBackend func(t *testing.T) Backend

// Run runs the whole suite, each test against a fresh backend.
func Run(t *testing.T, newBackend NewBackend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"RunStreamsOutputAndExitCode", testRunStreams},
		{"ExecBuffered", testExecBuffered},
		{"EnvAndStdin", testEnvAndStdin},
		{"Timeout", testTimeout},
		{"CancellationClosesTheStream", testCancel},
		{"NamedShellKeepsCwd", testNamedShell},
		{"FileOps", testFileOps},
		{"BinaryRoundTripAndRanges", testBinary},
		{"AuthScopesPinsAndTenants", testAuth},
		{"Destroy", testDestroy},
		{"ProcessesAndLogs", testProcesses},
		{"Ports", testPorts},
		{"WireErrors", testWireErrors},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, &env{b: newBackend(t)})
		})
	}
}

// env is one test's backend with helpers.
type env struct {
	b Backend
}

// token mints a token the backend accepts.
func (e *env) token(t *testing.T, tenant, sub, sid string, scopes ...string) string {
	t.Helper()
	in := token.Input{Tenant: &tenant, Scopes: scopes}
	if sub != "" {
		in.Subject = &sub
	}
	if sid != "" {
		in.SessionID = &sid
	}
	tok, err := token.Issuer{Secret: e.b.Secret}.Mint(in)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (e *env) client(t *testing.T, tok string) *sc.Client {
	t.Helper()
	o := sc.Options{Endpoint: e.b.URL, HTTPClient: e.b.HTTPClient, Retry: sc.RetryPolicy{MaxAttempts: 2, MaxWait: 5 * time.Millisecond, DefaultWait: time.Millisecond}}
	if tok != "" {
		o.Tokens = sc.StaticToken(tok)
	}
	c, err := sc.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// box is a handle on id with a sandbox:use token of acme/alice.
func (e *env) box(t *testing.T, id string, scopes ...string) *sc.Sandbox {
	t.Helper()
	if len(scopes) == 0 {
		scopes = []string{token.ScopeSandboxUse}
	}
	return handle(t, e.client(t, e.token(t, "acme", "alice", id, scopes...)), id)
}

func handle(t *testing.T, c *sc.Client, id string) *sc.Sandbox {
	t.Helper()
	sb, err := c.Sandbox(id, sc.SandboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sb
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func codeOf(err error) string {
	var re *sc.RemoteError
	if errors.As(err, &re) {
		return re.Code
	}
	var ce *sc.Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	return ""
}

func statusOf(err error) int {
	var re *sc.RemoteError
	if errors.As(err, &re) {
		return re.Status
	}
	return 0
}

func testRunStreams(t *testing.T, e *env) {
	sb := e.box(t, "job-1")
	var out, errb bytes.Buffer
	r, err := sb.Run(ctx(t), "echo hi; echo oops >&2; exit 3", sc.ExecOptions{}, &out, &errb)
	if err != nil {
		t.Fatal(err)
	}
	if r.ExitCode != 3 || r.Success || out.String() != "hi\n" || errb.String() != "oops\n" {
		t.Fatalf("got %+v stdout %q stderr %q", r, out.String(), errb.String())
	}
	if r.Command != "echo hi; echo oops >&2; exit 3" {
		t.Fatalf("exit frame command = %q", r.Command)
	}
	out.Reset()
	if _, err := sb.Run(ctx(t), "seq 1 20000", sc.ExecOptions{}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := 1; i <= 20000; i++ {
		want.WriteString(strconv.Itoa(i) + "\n")
	}
	if out.String() != want.String() {
		t.Fatalf("seq output differs (%d vs %d bytes)", out.Len(), want.Len())
	}
}

func testExecBuffered(t *testing.T, e *env) {
	sb := e.box(t, "job-1")
	r, err := sb.Exec(ctx(t), "echo out; echo err >&2; exit 5", sc.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.ExitCode != 5 || r.Success || r.Stdout != "out\n" || r.Stderr != "err\n" || r.Command != "echo out; echo err >&2; exit 5" {
		t.Fatalf("%+v", r)
	}
	if r.Timestamp < time.Now().Add(-time.Minute).UnixMilli() || r.Duration < 0 {
		t.Fatalf("timestamp/duration %+v", r)
	}
	ok, err := sb.Exec(ctx(t), "true", sc.ExecOptions{})
	if err != nil || ok.ExitCode != 0 || !ok.Success {
		t.Fatalf("%+v %v", ok, err)
	}
}

func testEnvAndStdin(t *testing.T, e *env) {
	sb := e.box(t, "job-1")
	in := "from stdin\n"
	var out bytes.Buffer
	r, err := sb.Run(ctx(t), "printenv GREETING; cat", sc.ExecOptions{Env: map[string]string{"GREETING": "hello there"}, Stdin: &in}, &out, io.Discard)
	if err != nil || r.ExitCode != 0 {
		t.Fatalf("%+v %v", r, err)
	}
	if out.String() != "hello there\nfrom stdin\n" {
		t.Fatalf("stdout %q", out.String())
	}
	// One-shot shells do not carry exports over.
	if _, err := sb.Exec(ctx(t), "export LEAK=1", sc.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	r2, err := sb.Exec(ctx(t), "echo \"[$LEAK]\"", sc.ExecOptions{})
	if err != nil || r2.Stdout != "[]\n" {
		t.Fatalf("%+v %v", r2, err)
	}
}

// testTimeout gives the command 1 s, not less: the server must report the
// timeout within the client's grace (as long again, at least 1 s), which a
// loaded CI machine can miss for a 100 ms timeout.
func testTimeout(t *testing.T, e *env) {
	sb := e.box(t, "job-1")
	var errb bytes.Buffer
	start := time.Now()
	r, err := sb.Run(ctx(t), "sleep 30", sc.ExecOptions{Timeout: time.Second}, io.Discard, &errb)
	if err != nil {
		t.Fatal(err)
	}
	if r.ExitCode != 124 || errb.String() != "command timed out after 1000ms\n" {
		t.Fatalf("got %d %q", r.ExitCode, errb.String())
	}
	if time.Since(start) > 20*time.Second {
		t.Fatal("the timeout did not stop the command")
	}
	b, err := sb.Exec(ctx(t), "sleep 30", sc.ExecOptions{Timeout: time.Second})
	if err != nil || b.ExitCode != 124 || b.Stderr != "command timed out after 1000ms\n" {
		t.Fatalf("%+v %v", b, err)
	}
}

func testCancel(t *testing.T, e *env) {
	sb := e.box(t, "job-1")
	c, cancel := context.WithCancel(ctx(t))
	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, 64)
		_, _ = pr.Read(buf)
		cancel()
		_, _ = io.Copy(io.Discard, pr)
	}()
	start := time.Now()
	_, err := sb.Run(c, "echo started; sleep 30", sc.ExecOptions{}, pw, io.Discard)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("cancellation did not stop the wait")
	}
	// The sandbox is still usable.
	r, err := sb.Exec(ctx(t), "echo ok", sc.ExecOptions{})
	if err != nil || r.Stdout != "ok\n" {
		t.Fatalf("%+v %v", r, err)
	}
}

func testNamedShell(t *testing.T, e *env) {
	c := e.client(t, e.token(t, "acme", "alice", "", token.ScopeSandboxUse))
	sb, err := c.Sandbox("job-1", sc.SandboxOptions{ShellID: "agent-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Mkdir(ctx(t), "/home/user/app"); err != nil {
		t.Fatal(err)
	}
	// A call's env option is for that call only ("merged over the shell
	// environment for this call"); what the command exports stays.
	if _, err := sb.Exec(ctx(t), "cd app; export KEPT=yes", sc.ExecOptions{Env: map[string]string{"ONCE": "1", "KEPT": "call"}}); err != nil {
		t.Fatal(err)
	}
	r, err := sb.Exec(ctx(t), "pwd; echo $KEPT-$ONCE", sc.ExecOptions{})
	if err != nil || !strings.HasSuffix(r.Stdout, "/home/user/app\nyes-\n") {
		t.Fatalf("%+v %v", r, err)
	}
	plain := handle(t, c, "job-1")
	r, err = plain.Exec(ctx(t), "pwd", sc.ExecOptions{Cwd: "app"})
	if err != nil || !strings.HasSuffix(r.Stdout, "/home/user/app\n") {
		t.Fatalf("relative cwd: %+v %v", r, err)
	}
}

func testFileOps(t *testing.T, e *env) {
	sb := e.box(t, "job-1")
	x := ctx(t)
	if err := sb.WriteFile(x, "/home/user/nope/a.txt", []byte("x")); codeOf(err) != sc.CodeRemoteRPC || !sc.IsNotFound(err) {
		t.Fatalf("write without parent: %v", err)
	}
	if err := sb.Mkdir(x, "/home/user/app/src"); err != nil {
		t.Fatal(err)
	}
	if err := sb.WriteFile(x, "/home/user/app/src/main.txt", []byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	text, ok, err := sb.ReadFile(x, "/home/user/app/src/main.txt")
	if err != nil || !ok || text != "hello\n" {
		t.Fatalf("%q %v %v", text, ok, err)
	}
	if _, ok, err := sb.ReadFile(x, "/home/user/missing.txt"); err != nil || ok {
		t.Fatalf("missing file: %v %v", ok, err)
	}
	st, err := sb.Stat(x, "/home/user/app/src/main.txt")
	if err != nil || st == nil || st.Type != "file" || st.Size != 6 || st.Mode&0o170000 != 0o100000 {
		t.Fatalf("stat %+v %v", st, err)
	}
	if st, err := sb.Stat(x, "/home/user/nothing"); err != nil || st != nil {
		t.Fatalf("stat missing %+v %v", st, err)
	}
	ents, err := sb.ReadDir(x, "/home/user/app")
	if err != nil || len(ents) != 1 || ents[0].Name != "src" || ents[0].Type != "directory" {
		t.Fatalf("readdir %+v %v", ents, err)
	}
	if _, err := sb.ReadDir(x, "/home/user/none"); !sc.IsNotFound(err) {
		t.Fatalf("readdir of a missing directory: %v", err)
	}
	if yes, err := sb.Exists(x, "/home/user/app/src/main.txt"); err != nil || !yes {
		t.Fatalf("exists %v %v", yes, err)
	}
	if err := sb.Rename(x, "/home/user/app/src/main.txt", "/home/user/app/main.txt"); err != nil {
		t.Fatal(err)
	}
	if err := sb.Chmod(x, "/home/user/app/main.txt", 0o755); err != nil {
		t.Fatal(err)
	}
	st, err = sb.Stat(x, "/home/user/app/main.txt")
	if err != nil || st.Mode&0o777 != 0o755 {
		t.Fatalf("chmod: %+v %v", st, err)
	}
	// Files written through the API are what commands see, and back.
	r, err := sb.Exec(x, "cat app/main.txt; echo made > app/made.txt", sc.ExecOptions{})
	if err != nil || r.Stdout != "hello\n" {
		t.Fatalf("%+v %v", r, err)
	}
	if text, _, _ := sb.ReadFile(x, "/home/user/app/made.txt"); text != "made\n" {
		t.Fatalf("command output file %q", text)
	}
	if err := sb.DeleteFile(x, "/home/user/app", false); codeOf(err) != sc.CodeRemoteRPC {
		t.Fatalf("non-recursive delete of a non-empty directory: %v", err)
	}
	if err := sb.DeleteFile(x, "/home/user/app", true); err != nil {
		t.Fatal(err)
	}
	if err := sb.DeleteFile(x, "/home/user/app", true); err != nil {
		t.Fatalf("deleting a missing path is a no-op: %v", err)
	}
	if yes, _ := sb.Exists(x, "/home/user/app"); yes {
		t.Fatal("app survived a recursive delete")
	}
	// Extra slashes and dot segments are normalised.
	if err := sb.WriteFile(x, "//home/user/./dot.txt", []byte("d")); err != nil {
		t.Fatal(err)
	}
	if text, ok, _ := sb.ReadFile(x, "/home/user/dot.txt"); !ok || text != "d" {
		t.Fatalf("normalised path %q %v", text, ok)
	}
}

func testBinary(t *testing.T, e *env) {
	sb := e.box(t, "job-1")
	x := ctx(t)
	data := make([]byte, 256*40)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := sb.WriteFile(x, "/home/user/blob.bin", data); err != nil {
		t.Fatal(err)
	}
	got, ok, err := sb.ReadFileBytes(x, "/home/user/blob.bin")
	if err != nil || !ok || !bytes.Equal(got, data) {
		t.Fatalf("round trip: ok=%v err=%v equal=%v", ok, err, bytes.Equal(got, data))
	}
	part, ok, err := sb.ReadRange(x, "/home/user/blob.bin", 100, 50)
	if err != nil || !ok || !bytes.Equal(part, data[100:150]) {
		t.Fatalf("range %v %v", ok, err)
	}
	tail, _, err := sb.ReadRange(x, "/home/user/blob.bin", int64(len(data)-10), 100)
	if err != nil || !bytes.Equal(tail, data[len(data)-10:]) {
		t.Fatalf("range past the end %d bytes %v", len(tail), err)
	}
	var buf bytes.Buffer
	if n, err := sb.ReadFileTo(x, "/home/user/blob.bin", &buf); err != nil || n != int64(len(data)) {
		t.Fatalf("%d %v", n, err)
	}
}

func testAuth(t *testing.T, e *env) {
	x := ctx(t)
	none := handle(t, e.client(t, ""), "job-1")
	if _, err := none.Exists(x, "/"); codeOf(err) != "E_TOKEN_MALFORMED" || statusOf(err) != 401 {
		t.Fatalf("no token: %v", err)
	}
	bad := handle(t, e.client(t, e.token(t, "acme", "alice", "job-1", token.ScopeSandboxUse)+"x"), "job-1")
	if _, err := bad.Exists(x, "/"); codeOf(err) != "E_TOKEN_SIGNATURE" {
		t.Fatalf("bad signature: %v", err)
	}
	attach := e.box(t, "job-1", token.ScopeSessionAttach)
	if _, err := attach.Exists(x, "/"); codeOf(err) != "E_SCOPE_MISSING" || statusOf(err) != 403 || !strings.Contains(err.Error(), "Missing required scope: sandbox:use") {
		t.Fatalf("wrong scope: %v", err)
	}
	pinned := handle(t, e.client(t, e.token(t, "acme", "alice", "job-2", token.ScopeSandboxUse)), "job-1")
	if _, err := pinned.Exists(x, "/"); codeOf(err) != "E_SESSION_PIN_MISMATCH" || !strings.Contains(err.Error(), `Token pinned to session "job-2" but request targets "job-1"`) {
		t.Fatalf("pin: %v", err)
	}
	// Tenants and subjects are isolated even with the same sandbox id; a
	// token without scopes is full trust.
	alice := e.box(t, "job-1")
	if err := alice.WriteFile(x, "/home/user/who", []byte("alice")); err != nil {
		t.Fatal(err)
	}
	for _, other := range []*sc.Sandbox{
		handle(t, e.client(t, e.token(t, "globex", "alice", "", token.ScopeSandboxUse)), "job-1"),
		handle(t, e.client(t, e.token(t, "acme", "bob", "")), "job-1"),
		handle(t, e.client(t, e.token(t, "acme", "", "")), "job-1"),
	} {
		if yes, err := other.Exists(x, "/home/user/who"); err != nil || yes {
			t.Fatalf("another identity sees alice's file: %v %v", yes, err)
		}
	}
	same := handle(t, e.client(t, e.token(t, "acme", "alice", "")), "job-1")
	if text, _, err := same.ReadFile(x, "/home/user/who"); err != nil || text != "alice" {
		t.Fatalf("same identity: %q %v", text, err)
	}
}

func testDestroy(t *testing.T, e *env) {
	x := ctx(t)
	use := e.box(t, "job-1")
	if err := use.WriteFile(x, "/home/user/keep.txt", []byte("k")); err != nil {
		t.Fatal(err)
	}
	if _, err := use.Destroy(x, "x"); codeOf(err) != "E_SCOPE_MISSING" || !strings.Contains(err.Error(), "session:destroy or session:admin") {
		t.Fatalf("destroy without scope: %v", err)
	}
	d := e.box(t, "job-1", token.ScopeSandboxUse, token.ScopeSessionDestroy)
	res, err := d.Destroy(x, "  ci-cleanup  ")
	if err != nil || !res.OK || res.Reason == nil || *res.Reason != "ci-cleanup" || res.DestroyedAt == 0 {
		t.Fatalf("%+v %v", res, err)
	}
	if yes, err := d.Exists(x, "/home/user/keep.txt"); err != nil || yes {
		t.Fatalf("files survived destroy: %v %v", yes, err)
	}
	// The sandbox is usable again, fresh.
	if r, err := d.Exec(x, "echo again", sc.ExecOptions{}); err != nil || r.Stdout != "again\n" {
		t.Fatalf("%+v %v", r, err)
	}
	// The REST alias, twice: idempotent.
	c := e.client(t, e.token(t, "acme", "alice", "job-1", token.ScopeSandboxUse, token.ScopeSessionDestroy))
	for i := 0; i < 2; i++ {
		r, err := c.DeleteSession(x, "job-1", "alias")
		if err != nil || !r.OK || r.Killed != 0 || r.Reason == nil || *r.Reason != "alias" {
			t.Fatalf("DELETE #%d: %+v %v", i, r, err)
		}
	}
	plain := e.client(t, e.token(t, "acme", "alice", "job-1", token.ScopeSandboxUse))
	if _, err := plain.DeleteSession(x, "job-1", ""); codeOf(err) != "E_SCOPE_MISSING" {
		t.Fatalf("DELETE without scope: %v", err)
	}
}

func testProcesses(t *testing.T, e *env) {
	sb := e.box(t, "job-1")
	x := ctx(t)
	st, err := sb.StartProcess(x, "echo a; sleep 0.2; echo b >&2; exit 2", sc.StartOptions{ExecOptions: sc.ExecOptions{ExecID: "ci-run-7"}})
	if err != nil {
		t.Fatal(err)
	}
	if st.PID == 0 || st.Process.PID != st.PID || st.Process.ExecID != "ci-run-7" || !st.Process.LongRunning {
		t.Fatalf("%+v", st)
	}
	ps, err := sb.ListProcesses(x)
	if err != nil || len(ps) != 1 || ps[0].PID != st.PID {
		t.Fatalf("%+v %v", ps, err)
	}
	var got strings.Builder
	exit, err := sb.FollowLogs(x, st.PID, 0, 25*time.Millisecond, func(l *sc.Logs) error {
		for _, c := range l.Chunks {
			got.WriteString(c.Stream + ":" + c.Data)
		}
		return nil
	})
	if err != nil || exit.Code != 2 || got.String() != "stdout:a\nstderr:b\n" {
		t.Fatalf("exit=%+v err=%v logs=%q", exit, err, got.String())
	}
	// A cursor returns only newer chunks.
	l, err := sb.ProcessLogs(x, st.PID, sc.LogOptions{})
	if err != nil || l.Text != "a\nb\n" || l.Exit == nil {
		t.Fatalf("%+v %v", l, err)
	}
	cur := l.Cursor
	l, err = sb.ProcessLogs(x, st.PID, sc.LogOptions{Cursor: &cur})
	if err != nil || len(l.Chunks) != 0 || l.Cursor != cur {
		t.Fatalf("after the cursor: %+v %v", l, err)
	}
	one := int64(1)
	l, err = sb.ProcessLogs(x, st.PID, sc.LogOptions{Lines: &one})
	if err != nil || l.Text != "b\n" {
		t.Fatalf("tail of one line: %+v %v", l, err)
	}
	// The end of the log, without output, is the cursor of any tail; a
	// follow from there (tail -f -n 0) of an exited process prints nothing.
	end, err := sb.ProcessLogEnd(x, st.PID)
	if err != nil || len(end.Chunks) != 0 || end.Text != "" || end.Cursor != cur || end.Exit == nil || end.Exit.Code != 2 {
		t.Fatalf("end of the log: %+v %v", end, err)
	}
	exit, err = sb.FollowLogs(x, st.PID, sc.FollowNew, 25*time.Millisecond, func(l *sc.Logs) error {
		return fmt.Errorf("following from the end printed %q", l.Text)
	})
	if err != nil || exit.Code != 2 {
		t.Fatalf("following from the end: %+v %v", exit, err)
	}
	long, err := sb.StartProcess(x, "sleep 30", sc.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a, err := sb.SignalProcess(x, long.PID, "SIGTERM"); err != nil || !a.OK {
		t.Fatalf("%+v %v", a, err)
	}
	exit, err = sb.FollowLogs(x, long.PID, 10, 25*time.Millisecond, func(*sc.Logs) error { return nil })
	if err != nil || exit.Code != 143 || exit.Reason == nil || *exit.Reason != "SIGTERM" {
		t.Fatalf("%+v %v", exit, err)
	}
	if a, err := sb.KillProcess(x, long.PID); err != nil || a.OK {
		t.Fatalf("killing an exited process: %+v %v", a, err)
	}
	if _, err := sb.ProcessLogs(x, 1, sc.LogOptions{}); codeOf(err) != sc.CodeRemoteRPC {
		t.Fatalf("logs of an unknown pid: %v", err)
	}
}

func testPorts(t *testing.T, e *env) {
	sb := e.box(t, "job-1")
	x := ctx(t)
	want := strings.TrimRight(e.b.URL, "/") + "/s/job-1/port/3000/"
	if e.b.PreviewHosts {
		u, err := url.Parse(e.b.URL)
		if err != nil {
			t.Fatal(err)
		}
		want = u.Scheme + "://3000--job-1.localhost:" + u.Port() + "/"
	}
	p, err := sb.ExposePort(x, 3000, sc.ExposeOptions{})
	if err != nil || p.Port != 3000 || p.Capability == nil || len(*p.Capability) != 24 || p.URL != want {
		t.Fatalf("%+v %v", p, err)
	}
	ports, err := sb.ListPorts(x)
	if err != nil || len(ports) != 1 || ports[0].Port != 3000 {
		t.Fatalf("%+v %v", ports, err)
	}
	u, err := sb.UnexposePort(x, 3000)
	if err != nil || !u.OK {
		t.Fatalf("%+v %v", u, err)
	}
	u, err = sb.UnexposePort(x, 3000)
	if err != nil || u.OK {
		t.Fatalf("second unexpose: %+v %v", u, err)
	}
}

// testWireErrors checks the envelope, statuses and codes with raw HTTP.
func testWireErrors(t *testing.T, e *env) {
	hc := e.b.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	tok := e.token(t, "acme", "alice", "job-1", token.ScopeSandboxUse)
	post := func(id, body string) (*http.Response, string) {
		req, _ := http.NewRequestWithContext(ctx(t), http.MethodPost, e.b.URL+"/api/nimbus/v1/sandboxes/"+id+"/rpc", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	cases := []struct {
		id, body string
		status   int
		want     string
	}{
		{"job-1", `{"op":"frobnicate","args":[]}`, 400, `{"ok":false,"error":"Unknown Nimbus sandbox operation: frobnicate","code":"E_REMOTE_OP"}`},
		{"job-1", `{"op":"killProcess","args":["abc"]}`, 400, `{"ok":false,"error":"pid must be a number","code":"E_ARG_SHAPE"}`},
		{"job-1", `{"op":"exec","args":["true",{"execId":"-bad"}]}`, 400, `{"ok":false,"error":"execId must be 1 to 160 characters from A-Z a-z 0-9 . _ : - and start with a letter or digit, got 4 characters","code":"E_ARG_SHAPE"}`},
		{"job-1", `{"op":"execStream","args":["pwd",{"cred":{"uid":1}}]}`, 400, `{"ok":false,"error":"cred is not accepted over the remote API","code":"E_ARG_SHAPE"}`},
		{"job-1", `{"op":"writeFile","args":["/home/user/x",42]}`, 400, `{"ok":false,"error":"content must be a string or Uint8Array","code":"E_ARG_SHAPE"}`},
		{"bad%20id", `{"op":"ready","args":[]}`, 400, `{"ok":false,"error":"Invalid sandbox id","code":"E_SANDBOX_ID"}`},
		{"job-1", `{"op":"mkdir","args":["/home/user/m"]}`, 200, `{"ok":true}`},
		{"job-1", `{"op":"exists","args":["/home/user/m"]}`, 200, `{"ok":true,"result":true}`},
		{"job-1", `{"op":"readFile","args":["/home/user/none"]}`, 200, `{"ok":true,"result":null}`},
	}
	for _, c := range cases {
		resp, body := post(c.id, c.body)
		if resp.StatusCode != c.status || !sameJSON(body, c.want) {
			t.Errorf("%s %s: got %d %s, want %d %s", c.id, c.body, resp.StatusCode, body, c.status, c.want)
		}
		if resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: headers %v", c.body, resp.Header)
		}
	}
	if resp, body := post("job-1", `{not json`); resp.StatusCode != 400 || !strings.Contains(body, `"code":"E_BAD_JSON"`) || !strings.Contains(body, "Invalid JSON body: ") {
		t.Errorf("bad JSON: %d %s", resp.StatusCode, body)
	}
	if resp, body := post("job-1", `[1]`); resp.StatusCode != 400 || !strings.Contains(body, `"code":"E_BAD_JSON"`) {
		t.Errorf("non-object JSON: %d %s", resp.StatusCode, body)
	}
	for _, m := range []string{http.MethodGet, http.MethodOptions} {
		req, _ := http.NewRequestWithContext(ctx(t), m, e.b.URL+"/api/nimbus/v1/sandboxes/job-1/rpc", nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch m {
		case http.MethodGet:
			if resp.StatusCode != 405 || !sameJSON(string(b), `{"ok":false,"error":"Method not allowed","code":"E_METHOD_NOT_ALLOWED"}`) {
				t.Errorf("GET: %d %s", resp.StatusCode, b)
			}
		case http.MethodOptions:
			if resp.StatusCode != 204 || len(b) != 0 || resp.Header.Get("Access-Control-Allow-Methods") != "POST, OPTIONS" || resp.Header.Get("Access-Control-Allow-Headers") != "Authorization, Content-Type" {
				t.Errorf("preflight: %d %q %v", resp.StatusCode, b, resp.Header)
			}
		}
	}
}

// sameJSON compares two JSON texts by value (member order is free).
func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// Concurrent runs n commands on one sandbox at once and checks that each
// got its own output and exit code; used by backends that run real
// processes.
func Concurrent(t *testing.T, sb *sc.Sandbox, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var out bytes.Buffer
			r, err := sb.Run(ctx(t), "echo start-"+strconv.Itoa(i)+"; sleep 0.2; seq 1 2000 > /dev/null; echo end-"+strconv.Itoa(i)+"; exit "+strconv.Itoa(i%7), sc.ExecOptions{}, &out, io.Discard)
			if err != nil {
				errs <- err
				return
			}
			want := "start-" + strconv.Itoa(i) + "\nend-" + strconv.Itoa(i) + "\n"
			if r.ExitCode != i%7 || out.String() != want {
				errs <- errors.New("run " + strconv.Itoa(i) + ": exit " + strconv.Itoa(r.ExitCode) + " output " + strconv.Quote(out.String()))
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
