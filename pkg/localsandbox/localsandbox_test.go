//go:build unix

package localsandbox_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/internal/proctest"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/conformance"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

func mint(t testing.TB, sid string, scopes ...string) string {
	t.Helper()
	tn, sub := "acme", "alice"
	in := token.Input{Tenant: &tn, Subject: &sub, Scopes: scopes}
	if sid != "" {
		in.SessionID = &sid
	}
	tok, err := token.Issuer{Secret: secret}.Mint(in)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func box(t testing.TB, url, id string, scopes ...string) *sc.Sandbox {
	t.Helper()
	if len(scopes) == 0 {
		scopes = []string{token.ScopeSandboxUse}
	}
	c, err := sc.New(sc.Options{Endpoint: url, Tokens: sc.StaticToken(mint(t, id, scopes...))})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.Sandbox(id, sc.SandboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sb
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func codeOf(err error) string {
	var re *sc.RemoteError
	if errors.As(err, &re) {
		return re.Code
	}
	return ""
}

func run(t *testing.T, sb *sc.Sandbox, cmd string) string {
	t.Helper()
	r, err := sb.Exec(ctx(t), cmd, sc.ExecOptions{})
	if err != nil || r.ExitCode != 0 {
		t.Fatalf("%s: %+v %v", cmd, r, err)
	}
	return r.Stdout
}

func TestSandboxDirectoryIsKeyedByDOName(t *testing.T) {
	s, hs := newServer(t)
	sb := box(t, hs.URL, "job-1")
	if err := sb.WriteFile(ctx(t), "/home/user/a.txt", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(s.SandboxDir("acme:alice:job-1"), "home", "user", "a.txt"))
	if err != nil || string(got) != "hi" {
		t.Fatalf("%q %v", got, err)
	}
	// Ids that are path segments of their own stay inside the data dir.
	for _, id := range []string{"..", "."} {
		dot := box(t, hs.URL, id)
		if err := dot.WriteFile(ctx(t), "/home/user/dot", []byte(id)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(s.SandboxDir("acme:alice:"+id), "home", "user", "dot"))
		if err != nil || string(got) != id {
			t.Fatalf("id %q: %q %v", id, got, err)
		}
	}
	want := filepath.Join(s.SandboxDir("acme:alice:job-1"), "home", "user")
	if s.Isolation().Namespaces() {
		want = "/home/user"
	}
	if home := run(t, sb, "echo $HOME"); home != want+"\n" {
		t.Fatalf("HOME = %q, want %q", home, want)
	}
}

func TestPathConfinement(t *testing.T) {
	s, hs := newServer(t)
	testConfinement(t, s, hs.URL)
}

// outsideDir is a host directory that commands of s do not see as the
// sandbox's: in namespaces the host's /tmp is hidden (a link to /tmp/… is
// the sandbox's), so it is made under /var/tmp.
func outsideDir(t *testing.T, s *localsandbox.Server) string {
	if !s.Isolation().Namespaces() {
		return t.TempDir()
	}
	d, err := os.MkdirTemp("/var/tmp", "nimbus-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

// testConfinement checks that no file op reaches outside the sandbox.
func testConfinement(t *testing.T, s *localsandbox.Server, url string) {
	sb := box(t, url, "job-1")
	x := ctx(t)
	dir := s.SandboxDir("acme:alice:job-1")
	outside := outsideDir(t, s)
	secretFile := filepath.Join(outside, "secret.txt")
	if err := os.WriteFile(secretFile, []byte("host secret"), 0o644); err != nil {
		t.Fatal(err)
	}

	// ".." stops at the sandbox's "/": these land inside the sandbox.
	if err := sb.WriteFile(x, "/home/user/../../../../../../etc/evil", []byte("x")); codeOf(err) != sc.CodeRemoteRPC || !sc.IsNotFound(err) {
		t.Fatalf("write under a missing /etc of the sandbox: %v", err)
	}
	if err := sb.Mkdir(x, "/../../etc"); err != nil {
		t.Fatal(err)
	}
	if err := sb.WriteFile(x, "/home/../../etc/evil", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "etc", "evil")); err != nil {
		t.Fatalf("the write did not land inside the sandbox: %v", err)
	}
	if text, ok, err := sb.ReadFile(x, "/../../../../../../../../etc/passwd"); err != nil || ok {
		t.Fatalf("read of the host /etc/passwd through ..: %q %v %v", text, ok, err)
	}

	// Symlinks made by commands cannot be followed out.
	run(t, sb, "ln -s /etc etc-link; ln -s "+outside+" abs-out; ln -s "+secretFile+" abs-file; ln -s ../../../../../../../../../../"+strings.TrimPrefix(secretFile, "/")+" rel-out; ln -s a.txt inside; echo in > a.txt")
	for _, p := range []string{"/home/user/etc-link/passwd", "/home/user/abs-out/secret.txt", "/home/user/abs-file", "/home/user/rel-out"} {
		if _, _, err := sb.ReadFile(x, p); codeOf(err) != sc.CodeRemoteRPC || !strings.HasPrefix(err.(interface{ Error() string }).Error(), "readFile: EACCES") {
			t.Errorf("read %s: %v", p, err)
		}
		if _, _, err := sb.ReadRange(x, p, 0, 5); codeOf(err) != sc.CodeRemoteRPC {
			t.Errorf("readRange %s: %v", p, err)
		}
		if err := sb.WriteFile(x, p, []byte("pwned")); codeOf(err) != sc.CodeRemoteRPC {
			t.Errorf("write %s: %v", p, err)
		}
		if yes, err := sb.Exists(x, p); err != nil || yes {
			t.Errorf("exists %s: %v %v", p, yes, err)
		}
		if err := sb.Chmod(x, p, 0o777); codeOf(err) != sc.CodeRemoteRPC {
			t.Errorf("chmod %s: %v", p, err)
		}
		if _, err := sb.Exec(x, "true", sc.ExecOptions{Cwd: p}); codeOf(err) != sc.CodeRemoteRPC {
			t.Errorf("cwd %s: %v", p, err)
		}
	}
	for _, p := range []string{"/home/user/etc-link", "/home/user/abs-out"} {
		if _, err := sb.ReadDir(x, p); codeOf(err) != sc.CodeRemoteRPC {
			t.Errorf("readdir %s: %v", p, err)
		}
		if err := sb.Mkdir(x, p+"/sub"); codeOf(err) != sc.CodeRemoteRPC {
			t.Errorf("mkdir %s/sub: %v", p, err)
		}
		if err := sb.DeleteFile(x, p+"/secret.txt", false); codeOf(err) != sc.CodeRemoteRPC {
			t.Errorf("delete through %s: %v", p, err)
		}
	}
	if err := sb.Rename(x, "/home/user/a.txt", "/home/user/abs-out/moved"); codeOf(err) != sc.CodeRemoteRPC {
		t.Errorf("rename out: %v", err)
	}
	// An lstat, a readlink and a delete act on the link itself.
	st, err := sb.Lstat(x, "/home/user/etc-link")
	if err != nil || st.Type != "symlink" {
		t.Fatalf("lstat %+v %v", st, err)
	}
	if target, ok, err := sb.Readlink(x, "/home/user/etc-link"); err != nil || !ok || target != "/etc" {
		t.Fatalf("readlink %q %v %v", target, ok, err)
	}
	if err := sb.DeleteFile(x, "/home/user/abs-out", true); err != nil {
		t.Fatal(err)
	}
	// A link that stays inside works.
	if text, ok, err := sb.ReadFile(x, "/home/user/inside"); err != nil || !ok || text != "in\n" {
		t.Fatalf("inside link %q %v %v", text, ok, err)
	}
	// The host was never touched.
	if got, err := os.ReadFile(secretFile); err != nil || string(got) != "host secret" {
		t.Fatalf("host file changed: %q %v", got, err)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Fatalf("the deleted link took its target: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "moved")); err == nil {
		t.Fatal("rename left the sandbox")
	}
	// Error messages name sandbox paths, never host paths.
	_, _, err = sb.ReadFile(x, "/home/user/etc-link/passwd")
	if strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "'/home/user/etc-link/passwd'") {
		t.Fatalf("message %q", err)
	}
}

func TestDestroyKillsProcessesAndRemovesTheDirectory(t *testing.T) {
	s, hs := newServer(t)
	sb := box(t, hs.URL, "job-1", token.ScopeSandboxUse, token.ScopeSessionDestroy)
	x := ctx(t)
	dir := s.SandboxDir("acme:alice:job-1")
	bg, child, fg := proctest.Marker(), proctest.Marker(), proctest.Marker()
	st, err := sb.StartProcess(x, "sleep "+child+" & sleep "+bg+"; wait", sc.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A running exec stream is killed too.
	stream, err := sb.ExecStream(x, "exec sleep "+fg, sc.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	proctest.WaitRunning(t, bg, child, fg)
	// A directory the sandbox made read-only does not stop destroy.
	run(t, sb, "mkdir -p ro/deep && touch ro/deep/f && chmod 0555 ro/deep ro")
	res, err := sb.Destroy(x, "done")
	if err != nil || res.Killed < 2 {
		t.Fatalf("%+v %v", res, err)
	}
	proctest.WaitGone(t, bg, child, fg)
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("directory still there: %v", err)
	}
	if _, err := stream.Next(); err == nil {
		t.Fatal("the stream of a destroyed sandbox kept going")
	}
	_ = st
	// Destroy also removes a sandbox left on disk by an earlier server.
	if err := os.MkdirAll(s.SandboxDir("acme:alice:old")+"/home/user", 0o755); err != nil {
		t.Fatal(err)
	}
	old := box(t, hs.URL, "old", token.ScopeSandboxUse, token.ScopeSessionDestroy)
	if r, err := old.Destroy(x, ""); err != nil || r.Killed != 0 || r.Reason != nil {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := os.Stat(s.SandboxDir("acme:alice:old")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("old directory still there: %v", err)
	}
}

func TestTimeoutKillsTheWholeProcessGroup(t *testing.T) {
	_, hs := newServer(t)
	sb := box(t, hs.URL, "job-1")
	bg, fg := proctest.Marker(), proctest.Marker()
	type result struct {
		r   *sc.ExecResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := sb.Exec(ctx(t), "sleep "+bg+" & sleep "+fg, sc.ExecOptions{Timeout: 3 * time.Second})
		done <- result{r, err}
	}()
	// Both run before the timeout kills them.
	proctest.WaitRunning(t, bg, fg)
	res := <-done
	if res.err != nil || res.r.ExitCode != 124 || res.r.Stderr != "command timed out after 3000ms\n" {
		t.Fatalf("%+v %v", res.r, res.err)
	}
	proctest.WaitGone(t, bg, fg)
	// A one-shot exec does not leave background jobs behind either, and
	// does not wait for them.
	start := time.Now()
	bg = proctest.Marker()
	run(t, sb, "sleep "+bg+" &")
	if time.Since(start) > 5*time.Second {
		t.Fatal("exec waited for its background job")
	}
	proctest.WaitGone(t, bg)
}

func TestClosingTheStreamKillsTheCommand(t *testing.T) {
	_, hs := newServer(t)
	sb := box(t, hs.URL, "job-1")
	fg := proctest.Marker()
	st, err := sb.ExecStream(ctx(t), "echo ready; exec sleep "+fg, sc.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := st.Next(); err != nil || string(c.Data) != "ready\n" {
		t.Fatalf("%q %v", c.Data, err)
	}
	proctest.WaitRunning(t, fg)
	st.Close()
	proctest.WaitGone(t, fg)
}

func TestConcurrentExecsOnOneSandbox(t *testing.T) {
	_, hs := newServer(t)
	conformance.Concurrent(t, box(t, hs.URL, "job-1"), 8)
	// Calls on one named shell run one at a time, in any order.
	c, _ := sc.New(sc.Options{Endpoint: hs.URL, Tokens: sc.StaticToken(mint(t, "job-1", token.ScopeSandboxUse))})
	named, _ := c.Sandbox("job-1", sc.SandboxOptions{ShellID: "s1"})
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			_, err := named.Exec(ctx(t), "n=$(cat n 2>/dev/null || echo 0); sleep 0.05; echo $((n+1)) > n", sc.ExecOptions{})
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := run(t, named, "cat n"); got != "4\n" {
		t.Fatalf("named shell calls overlapped: %q", got)
	}
}

func TestProcessLogs(t *testing.T) {
	_, hs := newServer(t)
	sb := box(t, hs.URL, "job-1")
	x := ctx(t)
	follow := func(pid int64) (string, *sc.LogExit) {
		var b strings.Builder
		exit, err := sb.FollowLogs(x, pid, 0, 25*time.Millisecond, func(l *sc.Logs) error {
			for _, c := range l.Chunks {
				b.WriteString(c.Data)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return b.String(), exit
	}
	// stdin: the initial value, then input written later.
	p, err := sb.StartProcess(x, "cat", sc.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a, err := sb.WriteProcessInput(x, p.PID, "line one\n"); err != nil || !a.OK {
		t.Fatalf("%+v %v", a, err)
	}
	if a, err := sb.EndProcessInput(x, p.PID); err != nil || !a.OK {
		t.Fatalf("%+v %v", a, err)
	}
	if out, exit := follow(p.PID); out != "line one\n" || exit.Code != 0 {
		t.Fatalf("%q %+v", out, exit)
	}
	// The ring keeps the last 64 KiB in chunks of at most 4 KiB.
	p, err = sb.StartProcess(x, "i=0; while [ $i -lt 2000 ]; do echo line-$i-................................................; i=$((i+1)); done", sc.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, exit := follow(p.PID)
	if exit.Code != 0 || !strings.HasSuffix(out, "line-1999-................................................\n") {
		t.Fatalf("exit %+v, %d bytes", exit, len(out))
	}
	zero := int64(0)
	l, err := sb.ProcessLogs(x, p.PID, sc.LogOptions{Cursor: &zero})
	if err != nil || !l.Truncated || len(l.Text) > 64<<10 || len(l.Text) < 60<<10 {
		t.Fatalf("truncated=%v size=%d %v", l.Truncated, len(l.Text), err)
	}
	for _, c := range l.Chunks {
		if len(c.Data) > 4<<10 {
			t.Fatalf("chunk of %d bytes", len(c.Data))
		}
	}
	hundred := int64(100)
	// As on a Worker, the chunk that reaches 100 bytes is included whole.
	if l, err := sb.ProcessLogs(x, p.PID, sc.LogOptions{Bytes: &hundred}); err != nil || len(l.Text) < 100 || len(l.Text) > 100+4<<10 {
		t.Fatalf("bytes tail %d %v", len(l.Text), err)
	}
	// Binary output is replaced by a placeholder line, the Worker's
	// ProcessLogStore's "[N bytes of binary output]\n".
	p, err = sb.StartProcess(x, `printf '\377\376\375'`, sc.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, _ = follow(p.PID)
	if out != "[3 bytes of binary output]\n" {
		t.Fatalf("%q", out)
	}
	// A timeout is reported in the log, with exit code 124.
	p, err = sb.StartProcess(x, "sleep 30", sc.StartOptions{ExecOptions: sc.ExecOptions{Timeout: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	out, exit = follow(p.PID)
	if out != "command timed out after 100ms\n" || exit.Code != 124 {
		t.Fatalf("%q %+v", out, exit)
	}
	// restart:'on-failure' runs a failing command again, a bounded number
	// of times; the log keeps every run.
	p, err = sb.StartProcess(x, "echo run; exit 3", sc.StartOptions{Restart: "on-failure"})
	if err != nil {
		t.Fatal(err)
	}
	out, exit = follow(p.PID)
	if out != strings.Repeat("run\n", 4) || exit.Code != 3 {
		t.Fatalf("%q %+v", out, exit)
	}
	if _, err := sb.StartProcess(x, "true", sc.StartOptions{Restart: "always"}); codeOf(err) != sc.CodeRemoteRPC {
		t.Fatalf("%v", err)
	}
	// A negative log option fails in the session, as on a Worker (its
	// schema rejects it); one that is no number is an argument error.
	neg := int64(-1)
	if _, err := sb.ProcessLogs(x, p.PID, sc.LogOptions{Lines: &neg}); codeOf(err) != sc.CodeRemoteRPC || !strings.Contains(err.Error(), "lines must be a non-negative integer, got -1") {
		t.Fatalf("%v", err)
	}
	if _, code, msg := rpcErr(t, hs.URL, "job-1", "processLogs", p.PID, map[string]any{"cursor": "x"}); code != "E_ARG_SHAPE" || msg != "cursor must be a number" {
		t.Fatalf("%s %s", code, msg)
	}
}

func TestPortProxy(t *testing.T) {
	_, hs := newServer(t)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Auth", r.Header.Get("Authorization"))
		w.Header().Set("X-Seen-Cookie", r.Header.Get("Cookie"))
		_, _ = io.WriteString(w, r.Method+" "+r.URL.RequestURI())
	}))
	defer app.Close()
	u, _ := url.Parse(app.URL)
	port := u.Port()
	sb := box(t, hs.URL, "job-1")
	// Under a name that is not loopback, where the path door takes its
	// cookie (--allow-host); under a loopback one it takes none
	// (TestPathDoorSendsBrowsersToThePreviewHost).
	c := browser(t, hs)
	get := func(path, tok string, hdr map[string]string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, named(hs, "dev.example")+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	attach := mint(t, "job-1", token.ScopeSessionAttach)
	base := "/s/job-1/port/" + port + "/"
	if resp, body := get(base+"x", attach, nil); resp.StatusCode != 404 || !strings.Contains(body, "E_PORT_NOT_EXPOSED") {
		t.Fatalf("before expose: %d %s", resp.StatusCode, body)
	}
	n, _ := strconv.Atoi(port)
	p, err := sb.ExposePort(ctx(t), n, sc.ExposeOptions{})
	// The URL printed is the preview host (the backend names its suffix
	// under a loopback name); the door serves the same app.
	hu, _ := url.Parse(hs.URL)
	if err != nil || !p.Listening || p.URL != "http://"+port+"--job-1.localhost:"+hu.Port()+"/" {
		t.Fatalf("%+v %v", p, err)
	}
	resp, body := get(base+"hello/world?a=1&b=2", attach, map[string]string{"Cookie": "theme=dark"})
	if resp.StatusCode != 200 || body != "GET /hello/world?a=1&b=2" || resp.Header.Get("X-Seen-Auth") != "" || resp.Header.Get("X-Seen-Cookie") != "theme=dark" {
		t.Fatalf("proxied: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	// The query token works once and sets the cookie; it is not forwarded.
	resp, body = get(base+"q?nimbus_token="+attach+"&keep=1", "", nil)
	if resp.StatusCode != 200 || body != "GET /q?keep=1" {
		t.Fatalf("query token: %d %q", resp.StatusCode, body)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == localsandbox.PreviewCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly {
		t.Fatalf("cookie %+v", resp.Cookies())
	}
	resp, body = get(base+"c", "", map[string]string{"Cookie": cookie.Name + "=" + cookie.Value + "; theme=dark"})
	if resp.StatusCode != 200 || body != "GET /c" || resp.Header.Get("X-Seen-Cookie") != "theme=dark" {
		t.Fatalf("cookie auth: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	// The Worker's cookie is not a credential for previews.
	if resp, _ := get(base+"c", "", map[string]string{"Cookie": token.CookieName + "=" + attach}); resp.StatusCode != 401 {
		t.Fatalf("__Host- cookie: %d", resp.StatusCode)
	}
	// Without the right scope, pin or token: refused, and the app never
	// sees the request.
	for _, c := range []struct {
		tok    string
		status int
		code   string
	}{
		{mint(t, "job-1", token.ScopeSandboxUse), 403, "E_SCOPE_MISSING"},
		{mint(t, "job-2", token.ScopeSessionAttach), 403, "E_SESSION_PIN_MISMATCH"},
		{"", 401, "E_TOKEN_MALFORMED"},
	} {
		resp, body := get(base+"secret", c.tok, nil)
		if resp.StatusCode != c.status || !strings.Contains(body, `"code":"`+c.code+`"`) || strings.Contains(body, "GET /secret") {
			t.Errorf("%s: %d %s", c.code, resp.StatusCode, body)
		}
	}
	// Without the trailing slash: a redirect to the door.
	if resp, _ := get("/s/job-1/port/"+port, attach, nil); resp.StatusCode != 301 || resp.Header.Get("Location") != base {
		t.Fatalf("redirect %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body := get("/s/job-1/port/0/", attach, nil); resp.StatusCode != 400 {
		t.Fatalf("port 0: %d %s", resp.StatusCode, body)
	}
	// After unexpose the door closes.
	if _, err := sb.UnexposePort(ctx(t), n); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(base, attach, nil); resp.StatusCode != 404 {
		t.Fatalf("after unexpose: %d", resp.StatusCode)
	}
}

func TestRunCodeAndRuntimes(t *testing.T) {
	_, hs := newServer(t)
	sb := box(t, hs.URL, "job-1")
	x := ctx(t)
	r, err := sb.RunCode(x, "echo from shell; exit 4", sc.RunCodeOptions{Language: "shell"})
	if err != nil || r.ExitCode != 4 || r.Stdout != "from shell\n" {
		t.Fatalf("%+v %v", r, err)
	}
	rts, err := sb.ListRuntimes(x)
	if err != nil || len(rts.Available) != 0 {
		t.Fatalf("%+v %v", rts, err)
	}
	found := false
	for _, rt := range rts.Installed {
		found = found || rt.Name == "shell"
	}
	if !found {
		t.Fatalf("shell missing from %+v", rts.Installed)
	}
	// A host without the interpreter: a clear answer, not a crash.
	_, bare := newServer(t, func(o *localsandbox.Options) { o.HostEnv = []string{"PATH=" + t.TempDir()} })
	nb := box(t, bare.URL, "job-1")
	r, err = nb.RunCode(x, "print(1)", sc.RunCodeOptions{Language: "python"})
	if err != nil || r.ExitCode != 127 || !strings.Contains(r.Stderr, "python is not available locally") || r.Command != "python -c 'print(1)'" {
		t.Fatalf("%+v %v", r, err)
	}
	inst, err := nb.InstallRuntime(x, "ruby@3.4.1", false)
	if err != nil || inst.ExitCode == 0 || !strings.Contains(inst.Stderr, "not available locally") {
		t.Fatalf("%+v %v", inst, err)
	}
	if _, err := nb.RunCode(x, "1", sc.RunCodeOptions{Language: "cobol"}); codeOf(err) != sc.CodeRemoteRPC {
		t.Fatalf("%v", err)
	}
	// The profile's runtime policy applies as on a Worker.
	off := false
	_, pol := newServer(t, func(o *localsandbox.Options) {
		o.Profiles = map[string]localsandbox.Profile{"default": {Runtimes: &localsandbox.Runtimes{OnDemand: &off, Allow: []string{"node", "python", "shell"}}}}
	})
	pb := box(t, pol.URL, "job-1")
	if _, err := pb.InstallRuntime(x, "python", false); codeOf(err) != "E_RUNTIME_ON_DEMAND_DISABLED" {
		t.Fatalf("%v", err)
	}
	if _, err := pb.RunCode(x, "puts 1", sc.RunCodeOptions{Language: "ruby"}); codeOf(err) != "E_RUNTIME_NOT_ALLOWED" {
		t.Fatalf("%v", err)
	}
}

// TestInstallOfAnotherVersionFails: installRuntime of a version the host
// does not have answers a failed install (exitCode 1, the host's version
// named), not exitCode 0 for a version that is not there; the host's own
// version, or a leading part of it, succeeds as before.
func TestInstallOfAnotherVersionFails(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte("#!/bin/sh\necho git version 2.45.1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, hs := newServer(t, func(o *localsandbox.Options) { o.HostEnv = []string{"PATH=" + bin} })
	sb := box(t, hs.URL, "job-1")
	for spec, ok := range map[string]bool{"git": true, "git@2.45.1": true, "git@2.45": true, "git@2": true, "git@2.4": false, "git@2.40.0": false, "git@latest": true, "git@^2": true} {
		inst, err := sb.InstallRuntime(ctx(t), spec, false)
		if err != nil {
			t.Fatal(err)
		}
		if (inst.ExitCode == 0) != ok {
			t.Errorf("install %s: %+v, want success %v", spec, inst, ok)
		}
		if !ok && !strings.Contains(inst.Stderr, "the host provides git 2.45.1") {
			t.Errorf("install %s: stderr %q does not name the host's version", spec, inst.Stderr)
		}
		// A tag or a range is not checked: the answer names what the host has.
		if (spec == "git@latest" || spec == "git@^2") && !strings.Contains(inst.Stdout, "version 2.45.1;") {
			t.Errorf("install %s: stdout %q does not name the host's version", spec, inst.Stdout)
		}
	}
}

func TestRunCodeWithHostInterpreters(t *testing.T) {
	_, hs := newServer(t, func(o *localsandbox.Options) {
		o.HostEnv = append(o.HostEnv, "PYENV_ROOT="+os.Getenv("PYENV_ROOT"), "HOME="+os.Getenv("HOME"))
	})
	sb := box(t, hs.URL, "job-1")
	for lang, code := range map[string]string{"python": "print(2 + 2)", "javascript": "console.log(2 + 2)", "ruby": "puts 2 + 2"} {
		r, err := sb.RunCode(ctx(t), code, sc.RunCodeOptions{Language: lang})
		if err != nil {
			t.Fatal(err)
		}
		if r.ExitCode == 127 && strings.Contains(r.Stderr, "not available locally") {
			t.Logf("%s: not installed on this host", lang)
			continue
		}
		if r.ExitCode != 0 || r.Stdout != "4\n" {
			t.Errorf("%s: %+v", lang, r)
		}
	}
}

func TestNoBackgroundAndNoSecret(t *testing.T) {
	_, hs := newServer(t, func(o *localsandbox.Options) { o.NoBackground, o.NoBackgroundHint = true, "run nimbus dev" })
	sb := box(t, hs.URL, "job-1")
	if _, err := sb.StartProcess(ctx(t), "sleep 1", sc.StartOptions{}); codeOf(err) != sc.CodeRemoteRPC || !strings.Contains(err.Error(), "run nimbus dev") {
		t.Fatalf("%v", err)
	}
	if _, err := sb.ExposePort(ctx(t), 3000, sc.ExposeOptions{}); codeOf(err) != sc.CodeRemoteRPC || !strings.Contains(err.Error(), "port previews are not available") {
		t.Fatalf("%v", err)
	}
	_, open := newServer(t, func(o *localsandbox.Options) { o.Secret = "" })
	if _, err := box(t, open.URL, "job-1").Exists(ctx(t), "/"); codeOf(err) != "E_AUTH_CONFIG_MISSING" {
		t.Fatalf("%v", err)
	}
}

func TestBufferedOutputLimit(t *testing.T) {
	_, hs := newServer(t, func(o *localsandbox.Options) { o.MaxBufferedOutput = 1000 })
	sb := box(t, hs.URL, "job-1")
	r, err := sb.Exec(ctx(t), "head -c 5000 /dev/zero | tr '\\0' a", sc.ExecOptions{})
	if err != nil || !strings.HasPrefix(r.Stdout, strings.Repeat("a", 1000)+"\n[4000 more bytes dropped") {
		t.Fatalf("%.80q %v", r.Stdout, err)
	}
	var out bytes.Buffer
	if _, err := sb.Run(ctx(t), "head -c 5000 /dev/zero", sc.ExecOptions{}, &out, io.Discard); err != nil || out.Len() != 5000 {
		t.Fatalf("stream %d %v", out.Len(), err)
	}
}

func TestBigFilesAndMinorOps(t *testing.T) {
	_, hs := newServer(t, func(o *localsandbox.Options) { o.ReadLimit = 1 << 20 })
	c, err := sc.New(sc.Options{Endpoint: hs.URL, Tokens: sc.StaticToken(mint(t, "job-1", token.ScopeSandboxUse)),
		ReadChunkThreshold: 1 << 20, ReadChunkSize: 256 << 10, Diag: true})
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := c.Sandbox("job-1", sc.SandboxOptions{})
	x := ctx(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), (3<<20)/16+7)
	if err := sb.WriteFile(x, "/home/user/big.bin", data); err != nil {
		t.Fatal(err)
	}
	// One read above the limit is refused with the Worker's message…
	if _, _, err := sb.ReadFileBytes(x, "/home/user/big.bin"); codeOf(err) != sc.CodeRemoteRPC || !strings.Contains(err.Error(), "exceeds the 1048576-byte limit") {
		t.Fatalf("%v", err)
	}
	// …so the client reads it in readRange chunks.
	var out bytes.Buffer
	if n, err := sb.ReadFileTo(x, "/home/user/big.bin", &out); err != nil || n != int64(len(data)) || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("%d %v", n, err)
	}
	if err := sb.BootProbe(x); err != nil {
		t.Fatal(err)
	}
	if detached, err := sb.DetachExec(x, "some-id"); err != nil || detached {
		t.Fatalf("%v %v", detached, err)
	}
	if _, err := sb.ResizeProcess(x, 1, 80, 24); err != nil {
		t.Fatal(err)
	}
}
