package sandboxclient_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/internal/freeport"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
)

// Identities of the named tokens these tests use; newClient mints a real
// token for a name, signed with the test backend's secret.
var testIDs = map[string]sandboxtest.Identity{
	"use":       {Tenant: "acme", Subject: "alice", Scopes: []string{"sandbox:use"}},
	"use-pin":   {Tenant: "acme", Subject: "alice", Scopes: []string{"sandbox:use"}, SID: "job-1"},
	"other-pin": {Tenant: "acme", Subject: "alice", Scopes: []string{"sandbox:use"}, SID: "job-2"},
	"attach":    {Tenant: "acme", Subject: "alice", Scopes: []string{"session:attach"}},
	"destroy":   {Tenant: "acme", Subject: "alice", Scopes: []string{"sandbox:use", "session:destroy"}},
	"full":      {Tenant: "acme"},
	"other-tn":  {Tenant: "globex", Scopes: []string{"sandbox:use"}},
	"create":    {Tenant: "acme", Scopes: []string{"session:create"}},
}

// mintID mints a token for id with secret, valid for an hour.
func mintID(secret string, id sandboxtest.Identity) string {
	return sandboxtest.Mint(secret, time.Now(), id)
}

// newFake starts the real backend behind the fault middleware.
func newFake(t testing.TB, opts sandboxtest.Options) *sandboxtest.Server {
	t.Helper()
	srv := sandboxtest.New(opts)
	t.Cleanup(srv.Close)
	return srv
}

func newClient(t testing.TB, url, token string, mod ...func(*sc.Options)) *sc.Client {
	t.Helper()
	o := sc.Options{Endpoint: url, Retry: sc.RetryPolicy{MaxAttempts: 4, MaxWait: 5 * time.Millisecond, DefaultWait: time.Millisecond}}
	switch id, named := testIDs[token]; {
	case named:
		o.Tokens = sc.StaticToken(mintID(sandboxtest.DefaultSecret, id))
	case token == "forged":
		o.Tokens = sc.StaticToken(mintID("not-the-secret-0123456789abcdef", testIDs["use"]))
	case token != "":
		o.Tokens = sc.StaticToken(token)
	}
	for _, m := range mod {
		m(&o)
	}
	c, err := sc.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func box(t testing.TB, c *sc.Client, id string) *sc.Sandbox {
	t.Helper()
	sb, err := c.Sandbox(id, sc.SandboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sb
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func count(ops []string, op string) int {
	n := 0
	for _, o := range ops {
		if o == op {
			n++
		}
	}
	return n
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

func TestRunStreamsOutputAndExitCode(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{MaxPiece: 3, Seed: 7})
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	var out, errb bytes.Buffer
	r, err := sb.Run(ctx(t), "echo hi; echo oops >&2; exit 3", sc.ExecOptions{}, &out, &errb)
	if err != nil {
		t.Fatal(err)
	}
	if r.ExitCode != 3 || r.Success || out.String() != "hi\n" || errb.String() != "oops\n" {
		t.Fatalf("got %+v stdout %q stderr %q", r, out.String(), errb.String())
	}
	out.Reset()
	if _, err := sb.Run(ctx(t), "seq 1 3000", sc.ExecOptions{}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := 1; i <= 3000; i++ {
		want.WriteString(strconv.Itoa(i) + "\n")
	}
	if out.String() != want.String() {
		t.Fatalf("seq output differs (%d vs %d bytes)", out.Len(), want.Len())
	}
	if got := srv.Ops(); !reflect.DeepEqual(got, []string{"ready", "execStream", "execStream"}) {
		t.Fatalf("ops = %v", got)
	}
}

func TestRunFallsBackToExecOnOldServers(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{NoExecStream: true})
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	var out, errb bytes.Buffer
	r, err := sb.Run(ctx(t), "echo hi; echo oops >&2; exit 4", sc.ExecOptions{}, &out, &errb)
	if err != nil {
		t.Fatal(err)
	}
	if r.ExitCode != 4 || out.String() != "hi\n" || errb.String() != "oops\n" {
		t.Fatalf("got %+v %q %q", r, out.String(), errb.String())
	}
	if got := srv.Ops(); !reflect.DeepEqual(got, []string{"ready", "execStream", "exec"}) {
		t.Fatalf("ops = %v", got)
	}
}

func TestStreamWithoutExitFrameIsAnError(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{TruncateStream: true})
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	var out bytes.Buffer
	_, err := sb.Run(ctx(t), "echo partial", sc.ExecOptions{}, &out, io.Discard)
	if codeOf(err) != sc.CodeStreamTruncated || !strings.Contains(err.Error(), "exec stream ended before the command exited") {
		t.Fatalf("err = %v", err)
	}
	if out.String() != "partial\n" {
		t.Fatalf("output before the cut must still be delivered, got %q", out.String())
	}
}

func TestStreamErrorFrame(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{})
	srv.SetErrorFrame("exec output cancelled")
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	_, err := sb.Run(ctx(t), "echo a", sc.ExecOptions{}, io.Discard, io.Discard)
	var ce *sc.Error
	if !errors.As(err, &ce) || ce.Code != sc.CodeExecFailed || ce.Message != "exec output cancelled" {
		t.Fatalf("err = %#v", err)
	}
}

func TestExecTimeoutReports124(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{})
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	var errb bytes.Buffer
	r, err := sb.Run(ctx(t), "sleep 5", sc.ExecOptions{Timeout: 50 * time.Millisecond}, io.Discard, &errb)
	if err != nil {
		t.Fatal(err)
	}
	if r.ExitCode != 124 || errb.String() != "command timed out after 50ms\n" {
		t.Fatalf("got %d %q", r.ExitCode, errb.String())
	}
}

func TestRunCancellationClosesTheStream(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{})
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	c, cancel := context.WithCancel(ctx(t))
	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, 64)
		_, _ = pr.Read(buf) // first output arrived: cancel
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
}

func TestSafeOpsRetryOn503(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{})
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	if err := sb.WriteFileText(ctx(t), "/home/user/a.txt", "hello\n"); err != nil {
		t.Fatal(err)
	}
	srv.ResetRequests()
	srv.Fail503("readFile", 2)
	text, ok, err := sb.ReadFile(ctx(t), "/home/user/a.txt")
	if err != nil || !ok || text != "hello\n" {
		t.Fatalf("got %q %v %v", text, ok, err)
	}
	if n := count(srv.Ops(), "readFile"); n != 3 {
		t.Fatalf("readFile sent %d times, want 3", n)
	}
	// A streamed write is re-encoded from the start on retry.
	srv.ResetRequests()
	srv.Fail503("writeFile", 2)
	blob := bytes.Repeat([]byte{0, 1, 2, 0xfe, 0xff}, 100000)
	if err := sb.WriteFile(ctx(t), "/home/user/blob", blob); err != nil {
		t.Fatal(err)
	}
	if got, _ := srv.File("acme:alice:job-1", "/home/user/blob"); !bytes.Equal(got, blob) {
		t.Fatal("retried write stored different bytes")
	}
	if n := count(srv.Ops(), "writeFile"); n != 3 {
		t.Fatalf("writeFile sent %d times, want 3", n)
	}
	// Bounded: more failures than attempts surfaces the 503.
	srv.ResetRequests()
	srv.Fail503("stat", 10)
	_, err = sb.Stat(ctx(t), "/home/user/a.txt")
	var re *sc.RemoteError
	if !errors.As(err, &re) || re.Status != 503 || re.Code != "E_NIMBUS_DO_OVERLOADED" || re.RetryAfter != 5*time.Second {
		t.Fatalf("err = %#v", err)
	}
	if n := count(srv.Ops(), "stat"); n != 4 {
		t.Fatalf("stat sent %d times, want 4 (MaxAttempts)", n)
	}
}

func TestUnsafeOpsAreNeverRetried(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{})
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	if _, err := sb.Ready(ctx(t)); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"exec": func() error { _, err := sb.Exec(ctx(t), "true", sc.ExecOptions{}); return err },
		"execStream": func() error {
			_, err := sb.Run(ctx(t), "true", sc.ExecOptions{}, io.Discard, io.Discard)
			return err
		},
		"runCode":        func() error { _, err := sb.RunCode(ctx(t), "1", sc.RunCodeOptions{}); return err },
		"startProcess":   func() error { _, err := sb.StartProcess(ctx(t), "true", sc.StartOptions{}); return err },
		"installRuntime": func() error { _, err := sb.InstallRuntime(ctx(t), "python", false); return err },
		"rename":         func() error { return sb.Rename(ctx(t), "/a", "/b") },
		"killProcess":    func() error { _, err := sb.KillProcess(ctx(t), 1); return err },
	}
	for op, call := range calls {
		srv.ResetRequests()
		srv.Fail503(op, 1)
		err := call()
		var re *sc.RemoteError
		if !errors.As(err, &re) || re.Status != 503 {
			t.Fatalf("%s: err = %v", op, err)
		}
		if n := count(srv.Ops(), op); n != 1 {
			t.Fatalf("%s sent %d times, want exactly 1", op, n)
		}
		srv.Fail503(op, 0)
	}
}

// flakyDialer refuses the first n connections, before anything is sent.
type flakyDialer struct {
	fail  atomic.Int32
	dials atomic.Int32
}

func (d *flakyDialer) client() *http.Client {
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d.dials.Add(1)
			if d.fail.Add(-1) >= 0 {
				return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	return &http.Client{Transport: tr}
}

func TestConnectionFailuresBeforeSendingAreRetriedForSafeOpsOnly(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{})
	d := &flakyDialer{}
	sb := box(t, newClient(t, srv.URL, "use", func(o *sc.Options) { o.HTTPClient = d.client() }), "job-1")
	d.fail.Store(2)
	if _, err := sb.Ready(ctx(t)); err != nil {
		t.Fatalf("ready should survive 2 refused dials: %v", err)
	}
	if d.dials.Load() != 3 {
		t.Fatalf("dials = %d, want 3", d.dials.Load())
	}
	d.dials.Store(0)
	d.fail.Store(1)
	_, err := sb.Exec(ctx(t), "true", sc.ExecOptions{})
	if codeOf(err) != sc.CodeTransport || d.dials.Load() != 1 {
		t.Fatalf("exec: err=%v dials=%d", err, d.dials.Load())
	}
	if strings.Contains(err.Error(), srv.URL+"/api") {
		t.Fatalf("transport errors must not repeat the request URL: %v", err)
	}
}

func TestDisabledAPIIsNotFollowed(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{Disabled: true})
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	_, err := sb.Exec(ctx(t), "true", sc.ExecOptions{})
	var ce *sc.Error
	if !errors.As(err, &ce) || ce.Code != sc.CodeAPINotEnabled || ce.Status != http.StatusFound {
		t.Fatalf("err = %#v", err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Status != http.StatusFound {
		t.Fatalf("the redirect must not be followed: %d requests", len(reqs))
	}
}

func TestNonJSONAnswerIsNotEnabled(t *testing.T) {
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<!doctype html><p>hello")
	}))
	defer html.Close()
	sb := box(t, newClient(t, html.URL, "use"), "job-1")
	_, err := sb.Ready(ctx(t))
	if codeOf(err) != sc.CodeAPINotEnabled || !strings.Contains(err.Error(), "text/html") {
		t.Fatalf("err = %v", err)
	}
}

func TestUnknownFieldsAreTolerated(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"future":{"x":[1,2]},"result":{"ok":true,"preinstalled":["node"],"extra":"x","nested":{"a":null}}}`)
	}))
	defer srv.Close()
	r, err := box(t, newClient(t, srv.URL, ""), "job-1").Ready(ctx(t))
	if err != nil || !r.OK || !reflect.DeepEqual(r.Preinstalled, []string{"node"}) {
		t.Fatalf("got %+v %v", r, err)
	}
}

func TestBinaryRoundTrip(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{})
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	data := make([]byte, 3<<20+17)
	for i := range data {
		data[i] = byte(i) ^ byte(i>>8) ^ byte(i>>16)
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for name, d := range map[string][]byte{"all-bytes": all, "big": data, "empty": {}} {
		p := "/home/user/" + name + ".bin"
		if err := sb.WriteFile(ctx(t), p, d); err != nil {
			t.Fatal(err)
		}
		stored, _ := srv.File("acme:alice:job-1", p)
		if !bytes.Equal(stored, d) {
			t.Fatalf("%s: server stored %d bytes, want %d", name, len(stored), len(d))
		}
		got, ok, err := sb.ReadFileBytes(ctx(t), p)
		if err != nil || !ok || !bytes.Equal(got, d) {
			t.Fatalf("%s: read back %d bytes ok=%v err=%v", name, len(got), ok, err)
		}
	}
	_, ok, err := sb.ReadFileBytes(ctx(t), "/home/user/missing")
	if err != nil || ok {
		t.Fatalf("missing file: ok=%v err=%v", ok, err)
	}
}

func TestBigReadsUseReadRangeChunks(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{ReadLimit: 1 << 20})
	c := newClient(t, srv.URL, "use", func(o *sc.Options) {
		o.ReadChunkThreshold = 1 << 20
		o.ReadChunkSize = 256 << 10
	})
	sb := box(t, c, "job-1")
	data := make([]byte, 3<<20+5)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	srv.PutFile("acme:alice:job-1", "/home/user/big.bin", data, 0o644)
	// A single readFileBytes is refused by the server above its limit.
	if _, _, err := sb.ReadFileBytes(ctx(t), "/home/user/big.bin"); codeOf(err) != sc.CodeRemoteRPC {
		t.Fatalf("readFileBytes above the limit: %v", err)
	}
	srv.ResetRequests()
	var out bytes.Buffer
	n, err := sb.ReadFileTo(ctx(t), "/home/user/big.bin", &out)
	if err != nil || n != int64(len(data)) || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("n=%d err=%v equal=%v", n, err, bytes.Equal(out.Bytes(), data))
	}
	ops := srv.Ops()
	// 13 chunks, and the byte past the end that says the file did not grow.
	if count(ops, "readFileBytes") != 0 || count(ops, "readRange") != 14 {
		t.Fatalf("ops = %v", ops)
	}
	// Small files take one readFileBytes.
	srv.PutFile("acme:alice:job-1", "/home/user/small.bin", data[:1000], 0o644)
	srv.ResetRequests()
	out.Reset()
	if _, err := sb.ReadFileTo(ctx(t), "/home/user/small.bin", &out); err != nil || !bytes.Equal(out.Bytes(), data[:1000]) {
		t.Fatal(err)
	}
	if ops := srv.Ops(); !reflect.DeepEqual(ops, []string{"stat", "readFileBytes"}) {
		t.Fatalf("ops = %v", ops)
	}
	if _, err := sb.ReadFileTo(ctx(t), "/home/user/none", &out); !sc.IsNotFound(err) {
		t.Fatalf("missing: %v", err)
	}
}

func TestWriteLimitFailsBeforeSending(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{})
	sb := box(t, newClient(t, srv.URL, "use", func(o *sc.Options) { o.WriteLimit = 1 << 10 }), "job-1")
	err := sb.WriteFile(ctx(t), "/home/user/x", make([]byte, 1025))
	var ce *sc.Error
	if !errors.As(err, &ce) || ce.Code != sc.CodeWriteTooLarge || !strings.Contains(ce.Message, "write limit of 1 KiB (1024 bytes)") {
		t.Fatalf("err = %v", err)
	}
	if len(srv.Requests()) != 0 {
		t.Fatalf("nothing may be sent, got %d requests", len(srv.Requests()))
	}
	if err := sb.WriteFile(ctx(t), "/home/user/x", make([]byte, 1024)); err != nil {
		t.Fatalf("exactly the limit is allowed: %v", err)
	}
	// The default limit is 20 MiB.
	def := newClient(t, srv.URL, "use")
	if def.WriteLimit() != 20<<20 {
		t.Fatalf("default limit = %d", def.WriteLimit())
	}
}

func TestAuthScopesPinsAndTenants(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{})
	cases := []struct {
		token, id, code string
		status          int
	}{
		{"", "job-1", "E_TOKEN_MALFORMED", 401},
		{"forged", "job-1", "E_TOKEN_SIGNATURE", 401},
		{"attach", "job-1", "E_SCOPE_MISSING", 403},
		{"other-pin", "job-1", "E_SESSION_PIN_MISMATCH", 403},
	}
	for _, tc := range cases {
		_, err := box(t, newClient(t, srv.URL, tc.token), tc.id).Ready(ctx(t))
		var re *sc.RemoteError
		if !errors.As(err, &re) || re.Code != tc.code || re.Status != tc.status {
			t.Fatalf("token %q: err = %v", tc.token, err)
		}
	}
	// Same sandbox id, different tenants: different sandboxes.
	a := box(t, newClient(t, srv.URL, "use-pin"), "job-1")
	b := box(t, newClient(t, srv.URL, "other-tn"), "job-1")
	if err := a.WriteFileText(ctx(t), "/home/user/who", "acme"); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteFileText(ctx(t), "/home/user/who", "globex"); err != nil {
		t.Fatal(err)
	}
	ta, _, _ := a.ReadFile(ctx(t), "/home/user/who")
	tb, _, _ := b.ReadFile(ctx(t), "/home/user/who")
	if ta != "acme" || tb != "globex" {
		t.Fatalf("tenants share a sandbox: %q %q", ta, tb)
	}
	if _, ok := srv.File("acme:alice:job-1", "/home/user/who"); !ok {
		t.Fatal("missing DO acme:alice:job-1")
	}
	if _, ok := srv.File("globex:_:job-1", "/home/user/who"); !ok {
		t.Fatal("missing DO globex:_:job-1")
	}
}

func TestDestroyNeedsScopeAndResetsReady(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{})
	weak := box(t, newClient(t, srv.URL, "use"), "job-1")
	if _, err := weak.Destroy(ctx(t), "x"); codeOf(err) != "E_SCOPE_MISSING" {
		t.Fatalf("err = %v", err)
	}
	sb := box(t, newClient(t, srv.URL, "destroy"), "job-1")
	if err := sb.WriteFileText(ctx(t), "/home/user/a", "x"); err != nil {
		t.Fatal(err)
	}
	srv.ResetRequests()
	r, err := sb.Destroy(ctx(t), "  ci-cleanup  ")
	if err != nil || !r.OK || r.Reason == nil || *r.Reason != "ci-cleanup" {
		t.Fatalf("got %+v %v", r, err)
	}
	ok, err := sb.Exists(ctx(t), "/home/user/a")
	if err != nil || ok {
		t.Fatalf("file survived destroy: %v %v", ok, err)
	}
	if ops := srv.Ops(); !reflect.DeepEqual(ops, []string{"destroy", "ready", "exists"}) {
		t.Fatalf("ops = %v", ops)
	}
	d, err := sb.Client().DeleteSession(ctx(t), "job-1", "again")
	if err != nil || d.Killed != 0 {
		t.Fatalf("DELETE: %+v %v", d, err)
	}
	if _, err := weak.Client().DeleteSession(ctx(t), "job-1", ""); codeOf(err) != "E_SCOPE_MISSING" {
		t.Fatalf("DELETE without destroy scope: %v", err)
	}
}

func TestReadyIsMemoised(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{Profiles: map[string]sandboxtest.Profile{"default": {Runtimes: &sandboxtest.Runtimes{Preinstall: []string{"python"}}}}})
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	for range 3 {
		if _, err := sb.Exists(ctx(t), "/"); err != nil {
			t.Fatal(err)
		}
	}
	r, err := sb.Ready(ctx(t))
	if err != nil || !reflect.DeepEqual(r.Preinstalled, []string{"python"}) {
		t.Fatalf("%+v %v", r, err)
	}
	if n := count(srv.Ops(), "ready"); n != 1 {
		t.Fatalf("ready sent %d times", n)
	}
}

func TestExecOptionNormalisation(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{})
	c := newClient(t, srv.URL, "use")
	sb, _ := c.Sandbox("job-1", sc.SandboxOptions{Root: "/home/user/proj"})
	named, _ := c.Sandbox("job-1", sc.SandboxOptions{ShellID: "agent-1"})
	in := "data"
	cases := []struct {
		sb   *sc.Sandbox
		opts sc.ExecOptions
		want string
	}{
		{sb, sc.ExecOptions{}, `{"cwd":"/home/user/proj"}`},
		{sb, sc.ExecOptions{Cwd: "src/../lib/./x"}, `{"cwd":"/home/user/proj/lib/x"}`},
		{sb, sc.ExecOptions{Cwd: "../../../../.."}, `{"cwd":"/"}`},
		{sb, sc.ExecOptions{Cwd: "//abs//p/"}, `{"cwd":"/abs/p"}`},
		{sb, sc.ExecOptions{ShellID: "s1"}, `{"shellId":"s1","shellRoot":"/home/user/proj"}`},
		{sb, sc.ExecOptions{ShellID: "s1", Cwd: "w"}, `{"shellId":"s1","shellRoot":"/home/user/proj","cwd":"/home/user/proj/w"}`},
		{named, sc.ExecOptions{}, `{"shellId":"agent-1","shellRoot":"/home/user"}`},
		{sb, sc.ExecOptions{Env: map[string]string{"A": "1"}, Stdin: &in, Timeout: 1500 * time.Microsecond, ExecID: "e1", DetachID: "d"}, `{"cwd":"/home/user/proj","env":{"A":"1"},"stdin":"data","timeoutMs":2,"execId":"e1","detachId":"d"}`},
	}
	for i, tc := range cases {
		srv.ResetRequests()
		if _, err := tc.sb.Exec(ctx(t), "true", tc.opts); err != nil && codeOf(err) != "E_NIMBUS_REMOTE_RPC" {
			t.Fatal(err)
		}
		reqs := srv.Requests()
		last := reqs[len(reqs)-1]
		var args []json.RawMessage
		_ = json.Unmarshal(last.Args, &args)
		var got, want any
		_ = json.Unmarshal(args[1], &got)
		_ = json.Unmarshal([]byte(tc.want), &want)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("case %d: sent %s, want %s", i, args[1], tc.want)
		}
	}
}

func TestNamedShellKeepsCwd(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{})
	c := newClient(t, srv.URL, "use")
	sb, _ := c.Sandbox("job-1", sc.SandboxOptions{ShellID: "agent-1"})
	if err := sb.Mkdir(ctx(t), "/home/user/app"); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Exec(ctx(t), "cd app", sc.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	// pwd prints the host path where the backend maps sandbox paths into a
	// data directory (no mount namespace): compared by suffix.
	r, err := sb.Exec(ctx(t), "pwd", sc.ExecOptions{})
	if err != nil || !strings.HasSuffix(r.Stdout, "/home/user/app\n") {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestProcessesAndFollowLogs(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{})
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	st, err := sb.StartProcess(ctx(t), "echo a; sleep 0.2; echo b >&2; exit 2", sc.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := sb.ListProcesses(ctx(t))
	if err != nil || len(ps) != 1 || ps[0].PID != st.PID {
		t.Fatalf("%+v %v", ps, err)
	}
	var got strings.Builder
	exit, err := sb.FollowLogs(ctx(t), st.PID, 0, 25*time.Millisecond, func(l *sc.Logs) error {
		for _, c := range l.Chunks {
			got.WriteString(c.Stream + ":" + c.Data)
		}
		return nil
	})
	if err != nil || exit.Code != 2 || got.String() != "stdout:a\nstderr:b\n" {
		t.Fatalf("exit=%+v err=%v logs=%q", exit, err, got.String())
	}
	long, _ := sb.StartProcess(ctx(t), "sleep 30", sc.StartOptions{})
	if a, err := sb.SignalProcess(ctx(t), long.PID, "SIGTERM"); err != nil || !a.OK {
		t.Fatalf("%+v %v", a, err)
	}
	exit, err = sb.FollowLogs(ctx(t), long.PID, 10, 25*time.Millisecond, func(*sc.Logs) error { return nil })
	if err != nil || exit.Code != 143 || exit.Reason == nil || *exit.Reason != "SIGTERM" {
		t.Fatalf("%+v %v", exit, err)
	}
	for _, f := range []func() (*sc.ProcessAck, error){
		func() (*sc.ProcessAck, error) { return sb.WriteProcessInput(ctx(t), st.PID, "x") },
		func() (*sc.ProcessAck, error) { return sb.EndProcessInput(ctx(t), st.PID) },
		func() (*sc.ProcessAck, error) { return sb.ResizeProcess(ctx(t), st.PID, 80, 24) },
		func() (*sc.ProcessAck, error) { return sb.KillProcess(ctx(t), st.PID) },
	} {
		if a, err := f(); err != nil || a.PID != st.PID {
			t.Fatalf("%+v %v", a, err)
		}
	}
}

// Output the backend's log ring evicted between two polls of FollowLogs
// is reported (Logs.Lost) on the poll after it, each time; the first
// poll's Truncated (a tail, with older output) is not a loss. The ring
// really loses the output: sandboxtest only times the process's bursts
// between the polls.
func TestFollowLogsReportsLostOutput(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{ProcessLogBytes: 1 << 10})
	lost, err := srv.LoseLogs(mintID(sandboxtest.DefaultSecret, testIDs["use"]), "job-1")
	if err != nil {
		t.Fatal(err)
	}
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	var text strings.Builder
	var got []bool
	exit, err := sb.FollowLogs(ctx(t), lost.PID, 0, time.Millisecond, func(l *sc.Logs) error {
		text.WriteString(l.Text)
		got = append(got, l.Lost)
		return nil
	})
	if err != nil || exit == nil || exit.Code != 0 {
		t.Fatalf("exit %+v, err %v", exit, err)
	}
	if !slices.Equal(got, []bool{false, true, true}) {
		t.Fatalf("Lost of the polls passed: %v", got)
	}
	if err := lost.Followed(text.String()); err != nil {
		t.Fatal(err)
	}
}

func TestRuntimesPortsApps(t *testing.T) {
	off := false
	srv := newFake(t, sandboxtest.Options{Profiles: map[string]sandboxtest.Profile{"default": {Runtimes: &sandboxtest.Runtimes{Preinstall: []string{"python"}, OnDemand: &off, Allow: []string{"node", "python", "ruby", "shell"}}}}})
	sb := box(t, newClient(t, srv.URL, "use", func(o *sc.Options) { o.PreviewHostSuffix = "preview.example.com" }), "job-1")
	// The backend lists the host's runtimes; sandboxtest puts a python on
	// its PATH.
	rts, err := sb.ListRuntimes(ctx(t))
	if err != nil || !slices.ContainsFunc(rts.Installed, func(r sc.InstalledRuntime) bool { return r.Name == "python" && r.Version != "" }) {
		t.Fatalf("%+v %v", rts, err)
	}
	if _, err := sb.InstallRuntime(ctx(t), "ruby", false); codeOf(err) != "E_RUNTIME_ON_DEMAND_DISABLED" {
		t.Fatalf("%v", err)
	}
	if _, err := sb.EnsureRuntimes(ctx(t), []string{"clang"}, false); codeOf(err) != "E_RUNTIME_NOT_ALLOWED" {
		t.Fatalf("%v", err)
	}
	res, err := sb.EnsureRuntimes(ctx(t), []string{"python@3.12.7"}, true)
	if err != nil || len(res) != 1 || res[0].ExitCode != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	p, err := sb.ExposePort(ctx(t), 3000, sc.ExposeOptions{})
	if err != nil || p.URL != "https://3000--job-1.preview.example.com/" {
		t.Fatalf("%+v %v", p, err)
	}
	pub, err := sb.ExposePort(ctx(t), 8080, sc.ExposeOptions{Visibility: "public"})
	if err != nil || pub.Capability == nil || pub.URL != "https://"+*pub.Capability+"--8080--job-1.preview.example.com/" {
		t.Fatalf("%+v %v", pub, err)
	}
	ports, err := sb.ListPorts(ctx(t))
	if err != nil || len(ports) != 2 {
		t.Fatalf("%+v %v", ports, err)
	}
	if u, err := sb.UnexposePort(ctx(t), 3000); err != nil || !u.OK {
		t.Fatalf("%+v %v", u, err)
	}
	if _, err := sb.ExposePort(ctx(t), 70000, sc.ExposeOptions{}); codeOf(err) != sc.CodeInvalidArgument {
		t.Fatalf("%v", err)
	}
	// Apps: a durable owner reserves a port; exposing, rotating and
	// removing name it by owner.
	da, err := sb.EnsureDurableApp(ctx(t), sc.DurableAppOptions{Owner: "web", PreferredPort: freePort(t)})
	if err != nil || da.Port == 0 {
		t.Fatalf("%+v %v", da, err)
	}
	app, err := sb.ExposeApp(ctx(t), "web", sc.ExposeOptions{Visibility: "public", Name: "web"})
	if err != nil || app.Visibility != "public" || app.Capability == nil {
		t.Fatalf("%+v %v", app, err)
	}
	rot, err := sb.RotateLink(ctx(t), "web")
	if err != nil || rot.Capability == nil || *rot.Capability == *app.Capability {
		t.Fatalf("%+v %v", rot, err)
	}
	apps, err := sb.ListApps(ctx(t))
	if err != nil || len(apps) != 1 {
		t.Fatalf("%+v %v", apps, err)
	}
	if rm, err := sb.RemoveApp(ctx(t), "web"); err != nil || !rm.Removed {
		t.Fatalf("%+v %v", rm, err)
	}
	if _, err := sb.ExposeApp(ctx(t), []int{1}, sc.ExposeOptions{}); codeOf(err) != "E_ARG_SHAPE" {
		t.Fatalf("%v", err)
	}
	port := freePort(t)
	da, err = sb.EnsureDurableApp(ctx(t), sc.DurableAppOptions{Owner: "svc", PreferredPort: port})
	if err != nil || da.Port != port {
		t.Fatalf("%+v %v", da, err)
	}
	if rm, err := sb.RemoveDurableApp(ctx(t), "svc"); err != nil || !rm.Removed {
		t.Fatalf("%+v %v", rm, err)
	}
	if err := sb.BootProbe(ctx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestFileOps(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{})
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	c := ctx(t)
	if err := sb.Mkdir(c, "/home/user/app/src"); err != nil {
		t.Fatal(err)
	}
	if err := sb.WriteFileText(c, "/home/user/app/src/main.go", "package main\n"); err != nil {
		t.Fatal(err)
	}
	if err := sb.Chmod(c, "/home/user/app/src/main.go", 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := sb.Stat(c, "/home/user/app/src/main.go")
	if err != nil || st.Type != "file" || st.Size != 13 || st.Mode&0o777 != 0o755 {
		t.Fatalf("%+v %v", st, err)
	}
	if st, err := sb.Lstat(c, "/home/user/nope"); err != nil || st != nil {
		t.Fatalf("%+v %v", st, err)
	}
	if err := sb.Rename(c, "/home/user/app/src", "/home/user/app/lib"); err != nil {
		t.Fatal(err)
	}
	ents, err := sb.ReadDir(c, "/home/user/app")
	if err != nil || !reflect.DeepEqual(ents, []sc.DirEntry{{Name: "lib", Type: "directory"}}) {
		t.Fatalf("%+v %v", ents, err)
	}
	if _, err := sb.ReadDir(c, "/home/user/none"); !sc.IsNotFound(err) {
		t.Fatalf("%v", err)
	}
	if err := sb.DeleteFile(c, "/home/user/app", false); codeOf(err) != sc.CodeRemoteRPC {
		t.Fatalf("non-recursive delete of a non-empty dir: %v", err)
	} else {
		var re *sc.RemoteError
		errors.As(err, &re)
		if re.Errno() != "ENOTEMPTY" {
			t.Fatalf("errno %q", re.Errno())
		}
	}
	if err := sb.DeleteFile(c, "/home/user/app", true); err != nil {
		t.Fatal(err)
	}
	if ok, err := sb.Exists(c, "/home/user/app"); err != nil || ok {
		t.Fatalf("%v %v", ok, err)
	}
	if _, ok, err := sb.Readlink(c, "/home/user/none"); err != nil || ok {
		t.Fatalf("readlink of a missing path: %v %v", ok, err)
	}
	var re *sc.RemoteError
	if _, _, err := sb.Readlink(c, "/home/user"); !errors.As(err, &re) || re.Errno() != "EINVAL" && !strings.HasPrefix(re.Message, "EINVAL") {
		t.Fatalf("readlink of a directory: %v", err)
	}
	if _, _, err := sb.ReadRange(c, "/x", -1, 2); codeOf(err) != sc.CodeInvalidArgument {
		t.Fatalf("%v", err)
	}
}

func TestRunCodeAndDetach(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{})
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	// The backend runs the host's node; a host without node gets the
	// backend's clear 127 answer instead (either way the client sent the
	// defaults and decoded the result).
	r, err := sb.RunCode(ctx(t), "console.log(40 + 2)", sc.RunCodeOptions{})
	if err != nil || r.Command != "node -e 'console.log(40 + 2)'" {
		t.Fatalf("%+v %v", r, err)
	}
	if !(r.ExitCode == 0 && r.Stdout == "42\n" || r.ExitCode == 127 && strings.Contains(r.Stderr, "node is not available locally")) {
		t.Fatalf("%+v", r)
	}
	reqs := srv.Requests()
	if !strings.Contains(string(reqs[len(reqs)-1].Args), `"language":"javascript","install":"never"`) {
		t.Fatalf("runCode defaults: %s", reqs[len(reqs)-1].Args)
	}
	if d, err := sb.DetachExec(ctx(t), "d1"); err != nil || d {
		t.Fatalf("%v %v", d, err)
	}
}

func TestCreateSession(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{})
	s, err := newClient(t, srv.URL, "create").CreateSession(ctx(t))
	if err != nil || !sc.ValidID(s.SessionID) || !strings.HasPrefix(s.URL, srv.URL+"/s/"+s.SessionID+"/?nimbus_token=eyJ") {
		t.Fatalf("%+v %v", s, err)
	}
	if _, err := newClient(t, srv.URL, "use").CreateSession(ctx(t)); codeOf(err) != "E_SCOPE_MISSING" {
		t.Fatalf("%v", err)
	}
	// The URL goes to a browser: an endpoint's basic-auth userinfo stays
	// out of it.
	authed := strings.Replace(srv.URL, "://", "://alice:s3cret-pw@", 1)
	s, err = newClient(t, authed, "create").CreateSession(ctx(t))
	if err != nil || !strings.HasPrefix(s.URL, srv.URL+"/s/"+s.SessionID+"/?nimbus_token=eyJ") {
		t.Fatalf("%+v %v", s, err)
	}
}

func TestInvalidInputsAreRefusedLocally(t *testing.T) {
	c := newClient(t, "http://127.0.0.1:1", "")
	for _, id := range []string{"", "bad id", "a/b", strings.Repeat("x", 129)} {
		if _, err := c.Sandbox(id, sc.SandboxOptions{}); codeOf(err) != sc.CodeSandboxID {
			t.Fatalf("%q: %v", id, err)
		}
	}
	for _, ep := range []string{"", "ftp://x", "nimbus.example.com", "http://"} {
		if _, err := sc.New(sc.Options{Endpoint: ep}); codeOf(err) != sc.CodeInvalidArgument {
			t.Fatalf("%q: %v", ep, err)
		}
	}
	for in, want := range map[string]string{"": "/api/nimbus/v1", "x": "/x", "//a/b//": "/a/b"} {
		if got := sc.NormalizeBasePath(in); got != want {
			t.Fatalf("%q -> %q", in, got)
		}
	}
}

func TestPortURLRules(t *testing.T) {
	c := newClient(t, "https://n.example.com/", "", func(o *sc.Options) { o.PreviewHostSuffix = "p.example.com" })
	host, _ := c.Sandbox("job-1", sc.SandboxOptions{})
	upper, _ := c.Sandbox("Job_1", sc.SandboxOptions{})
	path, _ := c.Sandbox("job-1", sc.SandboxOptions{PreviewPathStyle: true})
	base, _ := c.Sandbox("job-1", sc.SandboxOptions{PreviewPathStyle: true, PreviewBaseURL: "https://pv.example.com/{sessionId}/"})
	// A preview URL is printed and opened in browsers: an endpoint's
	// basic-auth userinfo stays out of it.
	authed, _ := newClient(t, "https://alice:s3cret-pw@n.example.com/", "").Sandbox("job-1", sc.SandboxOptions{})
	cases := []struct {
		sb   *sc.Sandbox
		port int
		o    sc.URLOptions
		want string
	}{
		{host, 3000, sc.URLOptions{}, "https://3000--job-1.p.example.com/"},
		{host, 3000, sc.URLOptions{Name: "web"}, "https://web--job-1.p.example.com/"},
		{host, 3000, sc.URLOptions{Visibility: "public", Capability: "abc"}, "https://abc--3000--job-1.p.example.com/"},
		{upper, 3000, sc.URLOptions{}, "https://n.example.com/s/Job_1/port/3000/"},
		{path, 3000, sc.URLOptions{Name: "web"}, "https://n.example.com/s/job-1/app/web/"},
		{base, 8080, sc.URLOptions{}, "https://pv.example.com/job-1/port/8080/"},
		{authed, 3000, sc.URLOptions{}, "https://n.example.com/s/job-1/port/3000/"},
	}
	for _, tc := range cases {
		if got := tc.sb.PortURL(tc.port, tc.o); got != tc.want {
			t.Fatalf("got %q want %q", got, tc.want)
		}
	}
}

// A client without tokens sends no Authorization header at all (for
// deployments with allowLegacy); a backend that enforces auth refuses it,
// and one without JWT_SECRET says so.
func TestNoTokenAndMissingSecret(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{})
	_, err := box(t, newClient(t, srv.URL, ""), "job-1").Ready(ctx(t))
	if codeOf(err) != "E_TOKEN_MALFORMED" {
		t.Fatalf("%v", err)
	}
	if reqs := srv.Requests(); len(reqs) != 1 || reqs[0].Header.Get("Authorization") != "" {
		t.Fatalf("requests %+v", reqs)
	}
	nosecret := newFake(t, sandboxtest.Options{NoSecret: true})
	_, err = box(t, newClient(t, nosecret.URL, "use"), "job-1").Ready(ctx(t))
	if codeOf(err) != "E_AUTH_CONFIG_MISSING" {
		t.Fatalf("%v", err)
	}
}

// statThenBody answers stat with size and the read op with body.
func statThenBody(size int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Op string `json:"op"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		w.Header().Set("Content-Type", "application/json")
		switch req.Op {
		case "ready":
			_, _ = io.WriteString(w, `{"ok":true,"result":{"ok":true,"preinstalled":[]}}`)
		case "stat":
			_, _ = io.WriteString(w, `{"ok":true,"result":{"type":"file","size":`+strconv.Itoa(size)+`,"mtime":1,"mode":33188}}`)
		default:
			_, _ = io.WriteString(w, body)
		}
	}
}

func TestReadFileToRejectsBadAnswers(t *testing.T) {
	cases := map[string]struct {
		size int
		body string
		code string
	}{
		"truncated":       {2, `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"AP`, sc.CodeBadResponse},
		"more than asked": {2, `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"` + strings.Repeat("AAAA", 1<<20) + `"}}`, sc.CodeBadResponse},
		"wrong type":      {2, `{"ok":true,"result":{"__nimbusWireType":"text","base64":"AP8="}}`, sc.CodeBadResponse},
		"not json":        {2, `<html>`, sc.CodeBadResponse},
		"no ok":           {2, `{"result":null}`, sc.CodeBadResponse},
		"vanished":        {2, `{"ok":true}`, sc.CodeRemoteRPC},
		"ok false at 200": {2, `{"ok":false,"error":"EACCES: permission denied","code":"E_NIMBUS_REMOTE_RPC"}`, sc.CodeRemoteRPC},
	}
	for name, tc := range cases {
		srv := httptest.NewServer(statThenBody(tc.size, tc.body))
		sb := box(t, newClient(t, srv.URL, "", func(o *sc.Options) { o.ReadChunkSize = 1024 }), "job-1")
		_, err := sb.ReadFileTo(ctx(t), "/f", io.Discard)
		if codeOf(err) != tc.code {
			t.Errorf("%s: err = %v, want %s", name, err, tc.code)
		}
		srv.Close()
	}
}

func TestIDRules(t *testing.T) {
	for id, want := range map[string]bool{"job-1": true, "A.b_c-9": true, strings.Repeat("x", 128): true, strings.Repeat("x", 129): false, "": false, "a b": false, "a/b": false, "é": false, "a:b": false} {
		if sc.ValidID(id) != want {
			t.Errorf("ValidID(%q) != %v", id, want)
		}
	}
	for id, want := range map[string]bool{"job-1": true, "nimble-otter-4271": true, "a": true, "-a": false, "a-": false, "Job": false, "a_b": false, strings.Repeat("x", 56): true, strings.Repeat("x", 57): false, "": false} {
		if sc.HostSafe(id) != want {
			t.Errorf("HostSafe(%q) != %v", id, want)
		}
	}
}

func TestNamedShellEnvIsPerCallAndCallsAreSerialised(t *testing.T) {
	srv := newFake(t, sandboxtest.Options{})
	c := newClient(t, srv.URL, "use")
	sb, _ := c.Sandbox("job-1", sc.SandboxOptions{ShellID: "s1"})
	if _, err := sb.Exec(ctx(t), "export KEPT=yes", sc.ExecOptions{Env: map[string]string{"ONCE": "1"}}); err != nil {
		t.Fatal(err)
	}
	r, err := sb.Exec(ctx(t), "echo $KEPT-$ONCE", sc.ExecOptions{})
	if err != nil || r.Stdout != "yes-\n" {
		t.Fatalf("%+v %v", r, err)
	}
	// Two concurrent calls on one shell run one after the other.
	start := time.Now()
	done := make(chan error, 2)
	for range 2 {
		go func() { _, err := sb.Exec(ctx(t), "sleep 0.2", sc.ExecOptions{}); done <- err }()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if time.Since(start) < 400*time.Millisecond {
		t.Fatalf("calls on one named shell overlapped (%v)", time.Since(start))
	}
}

// freePort returns a loopback port nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	p, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestInvalidEndpointMessageHidesThePassword: the message that quotes an
// endpoint nimbus cannot use never carries the password of its userinfo,
// whether or not it parses as a URL.
func TestInvalidEndpointMessageHidesThePassword(t *testing.T) {
	for _, ep := range []string{
		"ftp://alice:s3cret@example.com/x",
		"https://alice:s3cret@exa mple.com",
		"https://alice:s3cret@example.com:port/",
		"alice:s3cret@example.com",
		"//alice:s3cret@",
	} {
		_, err := sc.New(sc.Options{Endpoint: ep})
		if err == nil {
			t.Fatalf("%q: accepted", ep)
		}
		if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "xxxxx") {
			t.Fatalf("%q: %v", ep, err)
		}
	}
	for in, want := range map[string]string{
		"https://example.com":              "https://example.com",
		"https://alice@example.com":        "https://alice@example.com",
		"https://a:b@example.com/p@q":      "https://a:xxxxx@example.com/p@q",
		"https://a:b:c@d@example.com/?x=1": "https://a:xxxxx@example.com/?x=1",
	} {
		if got := sc.RedactEndpoint(in); got != want {
			t.Errorf("RedactEndpoint(%q) = %q, want %q", in, got, want)
		}
	}
}
