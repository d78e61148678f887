//go:build unix

package localsandbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/internal/freeport"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// appListenEnv makes TestHelperAppServer an app server: it listens on the
// address, prints "listening on <port>", answers "<method> <uri>" (and
// /exit?code=N exits with N).
const appListenEnv = "NIMBUS_TEST_APP_LISTEN"

// TestHelperAppServer is not a test: run by a sandbox command (the test
// binary copied into the sandbox, with appListenEnv set), it is the app
// server the app tests expose. Without appListenEnv it returns at once.
func TestHelperAppServer(t *testing.T) {
	addr := os.Getenv(appListenEnv)
	if addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Printf("listening on %d\n", ln.Addr().(*net.TCPAddr).Port)
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/exit" {
			code, _ := strconv.Atoi(r.URL.Query().Get("code"))
			go func() {
				time.Sleep(50 * time.Millisecond)
				os.Exit(code)
			}()
		}
		w.Header().Set("X-Seen-Prefix", r.Header.Get("X-Forwarded-Prefix"))
		w.Header().Set("X-Seen-Auth", r.Header.Get("Authorization"))
		_, _ = io.WriteString(w, r.Method+" "+r.URL.RequestURI())
	}))
	os.Exit(0)
}

// installAppServer copies the test binary into the sandbox directory dir
// (a sandbox path) of the sandbox with Durable Object name do, so sandbox
// commands can run it whatever they see of the host's paths, and returns
// the shell command that runs it from dir: a child of the sandbox's shell,
// as `npm start` would make it.
func installAppServer(t testing.TB, s *localsandbox.Server, do, dir string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(s.SandboxDir(do), filepath.FromSlash(dir), "app-server")
	if _, err := os.Stat(dst); err == nil {
		return appCommand
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return appCommand
}

// appCommand runs the installed app server from the current directory.
const appCommand = "./app-server -test.run='^TestHelperAppServer$' && true"

// startApp starts the app server as a background process listening on
// addr and returns its pid and port once it listens.
func startApp(t testing.TB, s *localsandbox.Server, sb *sc.Sandbox, addr, restart string) (int64, int) {
	t.Helper()
	x := ctx(t)
	if _, err := sb.Exists(x, "/"); err != nil {
		t.Fatal(err)
	}
	cmd := installAppServer(t, s, "acme:alice:"+sb.ID(), "/home/user")
	st, err := sb.StartProcess(x, cmd, sc.StartOptions{ExecOptions: sc.ExecOptions{Env: map[string]string{appListenEnv: addr}}, Restart: restart})
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`listening on (\d+)`)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		l, err := sb.ProcessLogs(x, st.PID, sc.LogOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if m := re.FindStringSubmatch(l.Text); m != nil {
			port, _ := strconv.Atoi(m[1])
			return st.PID, port
		}
		if l.Exit != nil {
			t.Fatalf("app exited: %+v %q", l.Exit, l.Text)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("app never listened")
	return 0, 0
}

// waitExit waits until a background process has exited.
func waitExit(t *testing.T, sb *sc.Sandbox, pid int64) *sc.LogExit {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		l, err := sb.ProcessLogs(ctx(t), pid, sc.LogOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if l.Exit != nil {
			return l.Exit
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("pid %d never exited", pid)
	return nil
}

// freePort returns a port nothing listens on.
func freePort(t *testing.T) int {
	p, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// rpcErr posts an op and returns the status, code and message of the
// failure it must be.
func rpcErr(t *testing.T, base, id, op string, args ...any) (int, string, string) {
	t.Helper()
	st, body := rawRPC(t, base, id, op, args...)
	var f struct {
		OK    *bool  `json:"ok"`
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	if err := json.Unmarshal([]byte(body), &f); err != nil || f.OK == nil || *f.OK {
		t.Fatalf("%s %v: not a failure: %d %s", op, args, st, body)
	}
	return st, f.Code, f.Error
}

func get(t *testing.T, u, tok string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var capRe = regexp.MustCompile(`^[0-9a-f]{24}$`)

// TestAppVerbs drives the app verbs through the client against a real
// server process in the sandbox: found by port, pid, name and owner,
// exposed under a name at /s/<id>/app/<name>/, rotated and removed.
func TestAppVerbs(t *testing.T) {
	srv, hs := newServer(t)
	const id = "apps-1"
	sb := box(t, hs.URL, id)
	x := ctx(t)
	if apps, err := sb.ListApps(x); err != nil || len(apps) != 0 {
		t.Fatalf("%+v %v", apps, err)
	}
	pid, port := startApp(t, srv, sb, "127.0.0.1:0", "on-failure")
	owner := "auto:/home/user:" + appCommand

	// A listening background process is an app before anything is exposed.
	apps, err := sb.ListApps(x)
	if err != nil || len(apps) != 1 {
		t.Fatalf("%+v %v", apps, err)
	}
	a := apps[0]
	if a.Owner != owner || a.Port == nil || *a.Port != port || a.PID == nil || *a.PID != pid || a.Status != "running" ||
		a.Visibility != "scoped" || a.Capability != nil || a.Name != nil || a.Restart != "on-failure" || a.Diagnostic != nil {
		t.Fatalf("%+v", a)
	}
	// …and its port is listed with the capability of its registration,
	// which the exposure below adopts.
	ports, err := sb.ListPorts(x)
	if err != nil || len(ports) != 1 || ports[0].Port != port || ports[0].PID != pid || !capRe.MatchString(ports[0].Capability) {
		t.Fatalf("%+v %v", ports, err)
	}
	registered := ports[0].Capability

	// Expose it under a name: the URL is the named app's preview host
	// (the backend names its suffix under a loopback name); its named
	// door serves the same app.
	e, err := sb.ExposeApp(x, port, sc.ExposeOptions{Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	door := hs.URL + "/s/" + id + "/app/web/"
	_, hsPort, _ := net.SplitHostPort(hs.Listener.Addr().String())
	shown := "http://web--" + id + ".localhost:" + hsPort + "/"
	if e.Owner != owner || *e.Name != "web" || *e.Port != port || *e.PID != pid || !capRe.MatchString(*e.Capability) || e.Visibility != "scoped" || *e.URL != shown {
		t.Fatalf("%+v", e)
	}
	first := *e.Capability
	if first != registered {
		t.Fatalf("capability %s, registered %s", first, registered)
	}
	// The server's own answer names the app's preview host on the port
	// asked, the request having come to a loopback address (the client
	// builds its own URL, as the SDK does).
	if _, body := rawRPC(t, hs.URL, id, "exposeApp", "web"); !strings.Contains(body, `"url":"http://web--`+id+`.localhost:`+hsPort+`/"`) {
		t.Fatalf("%s", body)
	}

	// Every target form names the same app.
	for _, tg := range []any{"web", map[string]any{"name": "web"}, map[string]any{"port": port}, pid, map[string]any{"pid": pid}, owner, map[string]any{"owner": owner}, port} {
		e, err := sb.ExposeApp(x, tg, sc.ExposeOptions{})
		if err != nil || e.Owner != owner || *e.Port != port || *e.Name != "web" || *e.Capability != first {
			t.Fatalf("%v: %+v %v", tg, e, err)
		}
	}

	// The named door proxies to the app, with the same auth as a port door.
	attach := mint(t, id, token.ScopeSessionAttach)
	resp, body := get(t, door+"hello/there?x=1", attach)
	if resp.StatusCode != 200 || body != "GET /hello/there?x=1" || resp.Header.Get("X-Seen-Prefix") != "/s/"+id+"/app/web" || resp.Header.Get("X-Seen-Auth") != "" {
		t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp, _ := get(t, hs.URL+"/s/"+id+"/app/web?a=b", attach); resp.StatusCode != 301 || resp.Header.Get("Location") != "/s/"+id+"/app/web/?a=b" {
		t.Fatalf("redirect %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, c := range []struct {
		path, tok string
		status    int
		code      string
	}{
		{"/s/" + id + "/app/nope/", attach, 404, "E_APP_NOT_FOUND"},
		{"/s/" + id + "/app/Web/", attach, 400, "E_ARG_SHAPE"},
		{"/s/" + id + "/app/web/", "", 401, "E_TOKEN_MALFORMED"},
		{"/s/" + id + "/app/web/", mint(t, id, token.ScopeSandboxUse), 403, "E_SCOPE_MISSING"},
		{"/s/" + id + "/app/web/", mint(t, "other", token.ScopeSessionAttach), 403, "E_SESSION_PIN_MISMATCH"},
		{"/s/other/app/web/", mint(t, "other", token.ScopeSessionAttach), 404, "E_APP_NOT_FOUND"},
	} {
		resp, body := get(t, hs.URL+c.path, c.tok)
		if resp.StatusCode != c.status || !strings.Contains(body, `"code":"`+c.code+`"`) || strings.Contains(body, "GET /") {
			t.Errorf("%s: %d %s", c.path, resp.StatusCode, body)
		}
	}
	// A request for another sandbox's preview never creates that sandbox.
	if _, err := os.Stat(filepath.Join(hs.Config.Handler.(*localsandbox.Server).SandboxDir("acme:alice:other"))); !os.IsNotExist(err) {
		t.Fatalf("sandbox created by a preview: %v", err)
	}

	// rotateLink: a new capability, everything else kept; public sticks.
	r, err := sb.RotateLink(x, "web")
	if err != nil || *r.Capability == first || !capRe.MatchString(*r.Capability) || *r.Name != "web" || *r.Port != port || r.Owner != owner {
		t.Fatalf("%+v %v", r, err)
	}
	if p, err := sb.ExposeApp(x, "web", sc.ExposeOptions{Visibility: "public"}); err != nil || p.Visibility != "public" || *p.Capability != *r.Capability {
		t.Fatalf("%+v %v", p, err)
	}
	apps, err = sb.ListApps(x)
	if err != nil || len(apps) != 1 || *apps[0].Name != "web" || *apps[0].Capability != *r.Capability || apps[0].Visibility != "public" || *apps[0].URL != shown || apps[0].Status != "running" {
		t.Fatalf("%+v %v", apps, err)
	}
	// The port verbs see the same record.
	ports, err = sb.ListPorts(x)
	if err != nil || len(ports) != 1 || ports[0].Port != port || ports[0].PID != pid || ports[0].Capability != *r.Capability {
		t.Fatalf("%+v %v", ports, err)
	}
	ep, err := sb.ExposePort(x, port, sc.ExposeOptions{})
	if err != nil || *ep.Owner != owner || *ep.Name != "web" || *ep.PID != pid || !ep.Listening || ep.URL != shown {
		t.Fatalf("%+v %v", ep, err)
	}

	// A background process that does not listen is no app (yet).
	sleeper, err := sb.StartProcess(x, "sleep 30", sc.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if apps, _ := sb.ListApps(x); len(apps) != 1 {
		t.Fatalf("%+v", apps)
	}

	// Errors, as the Worker words them.
	free := freePort(t)
	for _, c := range []struct {
		op     string
		args   []any
		status int
		code   string
		msg    string
	}{
		{"exposeApp", []any{true}, 400, "E_ARG_SHAPE", "Nimbus app target must be a port, a pid, a name, or { port | pid | name | owner }"},
		{"exposeApp", []any{map[string]any{}}, 400, "E_ARG_SHAPE", "Nimbus app target must be a port, a pid, a name, or { port | pid | name | owner }"},
		{"rotateLink", []any{nil}, 400, "E_ARG_SHAPE", "Nimbus app target must be a port, a pid, a name, or { port | pid | name | owner }"},
		{"removeApp", []any{[]any{1}}, 400, "E_ARG_SHAPE", "Nimbus app target must be a port, a pid, a name, or { port | pid | name | owner }"},
		{"exposeApp", []any{map[string]any{"port": "abc"}}, 400, "E_ARG_SHAPE", "port must be a number"},
		{"exposeApp", []any{map[string]any{"name": 5}}, 400, "E_ARG_SHAPE", "name must be a string"},
		{"exposeApp", []any{"web", map[string]any{"name": 5}}, 400, "E_ARG_SHAPE", "name must be a string"},
		{"exposeApp", []any{"nope"}, 500, "E_NIMBUS_REMOTE_RPC", "no application is named or owned 'nope'"},
		{"exposeApp", []any{map[string]any{"name": "nope"}}, 500, "E_NIMBUS_REMOTE_RPC", "no application is named 'nope'"},
		{"exposeApp", []any{map[string]any{"owner": "nope"}}, 500, "E_NIMBUS_REMOTE_RPC", "no application is owned by 'nope'"},
		{"exposeApp", []any{map[string]any{"pid": 12345}}, 500, "E_NIMBUS_REMOTE_RPC", "pid 12345 is not running and has no launch record"},
		{"exposeApp", []any{1.5}, 500, "E_NIMBUS_REMOTE_RPC", "target 1.5 is not a port or a pid"},
		{"exposeApp", []any{-3}, 500, "E_NIMBUS_REMOTE_RPC", "target -3 is not a port or a pid"},
		{"exposeApp", []any{99999999}, 500, "E_NIMBUS_REMOTE_RPC", "nothing listens on port 99999999 and no process 99999999 exists"},
		{"exposeApp", []any{free}, 500, "E_NIMBUS_REMOTE_RPC", "nothing is serving target " + strconv.Itoa(free) + " — start the server, then expose it"},
		{"exposeApp", []any{sleeper.PID}, 500, "E_NIMBUS_REMOTE_RPC", "target " + strconv.FormatInt(sleeper.PID, 10) + " has not bound a port yet — expose it once it is listening"},
		{"exposeApp", []any{map[string]any{"port": 70000}}, 500, "E_NIMBUS_REMOTE_RPC", "Invalid port: 70000"},
		{"exposeApp", []any{"web", map[string]any{"name": "Web"}}, 500, "E_NIMBUS_REMOTE_RPC", "'Web' is not a valid app name: one DNS label, not all digits, not 24 hex"},
		{"exposeApp", []any{"web", map[string]any{"name": "8080"}}, 500, "E_NIMBUS_REMOTE_RPC", "'8080' is not a valid app name: one DNS label, not all digits, not 24 hex"},
		{"exposeApp", []any{"web", map[string]any{"name": "0123456789abcdef01234567"}}, 500, "E_NIMBUS_REMOTE_RPC", "'0123456789abcdef01234567' is not a valid app name: one DNS label, not all digits, not 24 hex"},
		{"exposeApp", []any{"web", map[string]any{"name": "a--b"}}, 500, "E_NIMBUS_REMOTE_RPC", "'a--b' is not a valid app name: one DNS label, not all digits, not 24 hex"},
		{"exposePort", []any{port, map[string]any{"name": "-x"}}, 500, "E_NIMBUS_REMOTE_RPC", "'-x' is not a valid app name: one DNS label, not all digits, not 24 hex"},
		{"rotateLink", []any{free}, 500, "E_NIMBUS_REMOTE_RPC", "target " + strconv.Itoa(free) + " is not exposed — nothing to rotate"},
		{"removeApp", []any{map[string]any{"port": free}}, 500, "E_NIMBUS_REMOTE_RPC", "port " + strconv.Itoa(free) + " names no application — nothing to remove"},
	} {
		st, code, msg := rpcErr(t, hs.URL, id, c.op, c.args...)
		if st != c.status || code != c.code || msg != c.msg {
			t.Errorf("%s %v: %d %s %q, want %d %s %q", c.op, c.args, st, code, msg, c.status, c.code, c.msg)
		}
	}
	// A name is one app's: another port cannot take it.
	other, otherPort := startApp(t, srv, sb, "127.0.0.1:0", "")
	if _, code, msg := rpcErr(t, hs.URL, id, "exposeApp", otherPort, map[string]any{"name": "web"}); code != "E_NIMBUS_REMOTE_RPC" || msg != "app name 'web' is already taken by port "+strconv.Itoa(port)+" (remove or rename that app first)" {
		t.Fatalf("%s %q", code, msg)
	}
	// …and two servers of one owner are one app (its lowest port is shown).
	if apps, _ := sb.ListApps(x); len(apps) != 1 {
		t.Fatalf("%+v", apps)
	}

	// removeApp kills what serves it and forgets the record, and answers
	// once the app is gone: a listing right after it shows nothing.
	rm, err := sb.RemoveApp(x, "web")
	if err != nil || rm.Owner != owner || !rm.Removed || rm.Port == nil || *rm.Port != port {
		t.Fatalf("%+v %v", rm, err)
	}
	if apps, err := sb.ListApps(x); err != nil || len(apps) != 0 {
		t.Fatalf("%+v %v", apps, err)
	}
	for _, p := range []int64{pid, other} {
		if ex := waitExit(t, sb, p); ex.Reason == nil || *ex.Reason != "SIGKILL" {
			t.Fatalf("%d: %+v", p, ex)
		}
	}
	if resp, _ := get(t, door, attach); resp.StatusCode != 404 {
		t.Fatalf("door after remove: %d", resp.StatusCode)
	}
	if _, _, msg := rpcErr(t, hs.URL, id, "removeApp", "web"); msg != "no application is named or owned 'web'" {
		t.Fatal(msg)
	}
}

// TestAppFailureAndRestart: an app whose server exits with an error is
// listed failed, with a diagnostic; one stopped by the user is stopped.
func TestAppFailureAndRestart(t *testing.T) {
	srv, hs := newServer(t)
	const id = "apps-2"
	sb := box(t, hs.URL, id)
	x := ctx(t)
	pid, port := startApp(t, srv, sb, "127.0.0.1:0", "")
	if _, err := sb.ExposeApp(x, port, sc.ExposeOptions{Name: "api"}); err != nil {
		t.Fatal(err)
	}
	attach := mint(t, id, token.ScopeSessionAttach)
	if resp, _ := get(t, hs.URL+"/s/"+id+"/app/api/exit?code=3", attach); resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	if ex := waitExit(t, sb, pid); ex.Code != 3 {
		t.Fatalf("%+v", ex)
	}
	apps, err := sb.ListApps(x)
	if err != nil || len(apps) != 1 {
		t.Fatalf("%+v %v", apps, err)
	}
	a := apps[0]
	if a.Status != "failed" || a.Diagnostic == nil || *a.Diagnostic != "pid "+strconv.FormatInt(pid, 10)+" exited with code 3" || a.PID != nil || *a.Port != port || *a.Name != "api" || a.Restart != "never" {
		t.Fatalf("%+v", a)
	}
	// Nothing answers the door now.
	if resp, body := get(t, hs.URL+"/s/"+id+"/app/api/", attach); resp.StatusCode != 502 || !strings.Contains(body, "E_PORT_UNREACHABLE") || !strings.Contains(body, "app 'api'") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	// The same server started again is the same app, running again.
	pid2, port2 := startApp(t, srv, sb, "127.0.0.1:"+strconv.Itoa(port), "")
	if port2 != port {
		t.Fatalf("port %d", port2)
	}
	apps, _ = sb.ListApps(x)
	if len(apps) != 1 || apps[0].Status != "running" || *apps[0].PID != pid2 || *apps[0].Name != "api" {
		t.Fatalf("%+v", apps)
	}
	// Stopped by the user: stopped, no diagnostic.
	if _, err := sb.KillProcess(x, pid2); err != nil {
		t.Fatal(err)
	}
	waitExit(t, sb, pid2)
	apps, _ = sb.ListApps(x)
	if len(apps) != 1 || apps[0].Status != "stopped" || apps[0].Diagnostic != nil || apps[0].PID != nil {
		t.Fatalf("%+v", apps)
	}
	// Ended by the user's signal (143): stopped too, as on a Worker, where
	// a signal ends a resident like a kill.
	pid3, _ := startApp(t, srv, sb, "127.0.0.1:"+strconv.Itoa(port), "")
	if a, err := sb.SignalProcess(x, pid3, "SIGTERM"); err != nil || !a.OK {
		t.Fatalf("%+v %v", a, err)
	}
	if ex := waitExit(t, sb, pid3); ex.Code != 143 {
		t.Fatalf("%+v", ex)
	}
	apps, _ = sb.ListApps(x)
	if len(apps) != 1 || apps[0].Status != "stopped" || apps[0].Diagnostic != nil || apps[0].PID != nil {
		t.Fatalf("after SIGTERM: %+v", apps)
	}
}

// TestDurableApps reserves ports for owners, keeps them (and their names
// and capabilities) across a restart of the backend, and releases them.
func TestDurableApps(t *testing.T) {
	data := t.TempDir()
	opts := func(o *localsandbox.Options) { o.DataDir = data }
	srv, hs := newServer(t, opts)
	const id = "apps-3"
	sb := box(t, hs.URL, id)
	x := ctx(t)
	want := freePort(t)
	d, err := sb.EnsureDurableApp(x, sc.DurableAppOptions{Owner: "svc", PreferredPort: want})
	if err != nil || d.Port != want || d.Capability == nil || !capRe.MatchString(*d.Capability) || d.Visibility != "scoped" {
		t.Fatalf("%+v %v", d, err)
	}
	capa := *d.Capability
	// Asking again re-answers the same reservation; visibility can change.
	d, err = sb.EnsureDurableApp(x, sc.DurableAppOptions{Owner: "svc", PreferredPort: 1, Visibility: "public"})
	if err != nil || d.Port != want || *d.Capability != capa || d.Visibility != "public" {
		t.Fatalf("%+v %v", d, err)
	}
	// Another owner preferring a held port gets another one.
	d2, err := sb.EnsureDurableApp(x, sc.DurableAppOptions{Owner: "svc2", PreferredPort: want})
	if err != nil || d2.Port == want || d2.Port < 3000 || *d2.Capability == capa {
		t.Fatalf("%+v %v", d2, err)
	}
	apps, err := sb.ListApps(x)
	if err != nil || len(apps) != 2 || apps[0].Owner != "svc" || apps[0].Status != "stopped" || *apps[0].Port != want || apps[0].PID != nil || apps[0].Visibility != "public" || apps[1].Owner != "svc2" {
		t.Fatalf("%+v %v", apps, err)
	}
	// Whatever serves the reserved port is the owner's app.
	pid, _ := startApp(t, srv, sb, "127.0.0.1:"+strconv.Itoa(want), "")
	e, err := sb.ExposeApp(x, "svc", sc.ExposeOptions{Name: "api"})
	if err != nil || e.Owner != "svc" || *e.Port != want || *e.PID != pid || *e.Name != "api" || *e.Capability != capa || e.Visibility != "public" {
		t.Fatalf("%+v %v", e, err)
	}
	apps, _ = sb.ListApps(x)
	if apps[0].Owner != "svc" || apps[0].Status != "running" || *apps[0].PID != pid || len(apps) != 2 {
		t.Fatalf("%+v", apps)
	}

	// A restart of the backend keeps reservations, names and capabilities
	// (the app itself was stopped with the backend).
	_ = srv.Close()
	if _, err := os.Stat(filepath.Join(data, "apps", "acme:alice:"+id+".json")); err != nil {
		t.Fatal(err)
	}
	_, hs2 := newServer(t, opts)
	sb2 := box(t, hs2.URL, id)
	apps, err = sb2.ListApps(x)
	if err != nil || len(apps) != 2 || apps[0].Owner != "svc" || *apps[0].Name != "api" || *apps[0].Capability != capa || apps[0].Status != "stopped" {
		t.Fatalf("%+v %v", apps, err)
	}
	if resp, body := get(t, hs2.URL+"/s/"+id+"/app/api/", mint(t, id, token.ScopeSessionAttach)); resp.StatusCode != 502 {
		// Not 404: the name is known, nothing serves it now.
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	d, err = sb2.EnsureDurableApp(x, sc.DurableAppOptions{Owner: "svc"})
	if err != nil || d.Port != want || *d.Capability != capa {
		t.Fatalf("%+v %v", d, err)
	}

	// Releasing: removed once, then nothing to remove.
	rm, err := sb2.RemoveDurableApp(x, "svc")
	if err != nil || rm.Owner != "svc" || !rm.Removed || rm.Port == nil || *rm.Port != want {
		t.Fatalf("%+v %v", rm, err)
	}
	rm, err = sb2.RemoveDurableApp(x, "svc")
	if err != nil || rm.Removed || rm.Port != nil {
		t.Fatalf("%+v %v", rm, err)
	}
	for _, c := range []struct {
		op     string
		args   []any
		status int
		code   string
		msg    string
	}{
		{"ensureDurableApp", []any{}, 400, "E_ARG_SHAPE", "owner must be a string"},
		{"ensureDurableApp", []any{map[string]any{"owner": 7}}, 400, "E_ARG_SHAPE", "owner must be a string"},
		{"ensureDurableApp", []any{map[string]any{"owner": "x", "preferredPort": "abc"}}, 400, "E_ARG_SHAPE", "preferredPort must be a number"},
		{"ensureDurableApp", []any{map[string]any{"owner": "x", "preferredPort": 70000}}, 500, "E_NIMBUS_REMOTE_RPC", "Invalid port: 70000"},
		{"ensureDurableApp", []any{map[string]any{"owner": ""}}, 500, "E_NIMBUS_REMOTE_RPC", "ensureDurableApp: owner must be a non-empty string"},
		{"removeDurableApp", []any{"svc2"}, 400, "E_ARG_SHAPE", "owner must be a string"},
		{"removeDurableApp", []any{map[string]any{"owner": ""}}, 500, "E_NIMBUS_REMOTE_RPC", "removeDurableApp: owner must be a non-empty string"},
	} {
		st, code, msg := rpcErr(t, hs2.URL, id, c.op, c.args...)
		if st != c.status || code != c.code || msg != c.msg {
			t.Errorf("%s %v: %d %s %q, want %d %s %q", c.op, c.args, st, code, msg, c.status, c.code, c.msg)
		}
	}

	// destroy takes the records with it.
	if _, err := box(t, hs2.URL, id, token.ScopeSandboxUse, token.ScopeSessionDestroy).Destroy(x, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, "apps", "acme:alice:"+id+".json")); !os.IsNotExist(err) {
		t.Fatalf("state kept after destroy: %v", err)
	}
	if apps, err := sb2.ListApps(x); err != nil || len(apps) != 0 {
		t.Fatalf("%+v %v", apps, err)
	}
}

// TestAppsWithoutBackground: the in-process backend of --local lists and
// reserves, but has no server to expose.
func TestAppsWithoutBackground(t *testing.T) {
	_, hs := newServer(t, func(o *localsandbox.Options) { o.NoBackground, o.NoBackgroundHint = true, "run nimbus dev" })
	sb := box(t, hs.URL, "apps-4")
	x := ctx(t)
	if _, err := sb.EnsureDurableApp(x, sc.DurableAppOptions{Owner: "svc"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.ExposeApp(x, "svc", sc.ExposeOptions{}); codeOf(err) != sc.CodeRemoteRPC || !strings.Contains(err.Error(), "app previews are not available with this backend: run nimbus dev") {
		t.Fatalf("%v", err)
	}
	if apps, err := sb.ListApps(x); err != nil || len(apps) != 1 {
		t.Fatalf("%+v %v", apps, err)
	}
}

// TestAppURLsFromTheClient: the client builds app URLs as the SDK does, so
// a deployment's preview host suffix gives host-style URLs.
func TestAppURLsFromTheClient(t *testing.T) {
	srv, hs := newServer(t)
	c, err := sc.New(sc.Options{Endpoint: hs.URL, Tokens: sc.StaticToken(mint(t, "apps-5", token.ScopeSandboxUse)), PreviewHostSuffix: "preview.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := c.Sandbox("apps-5", sc.SandboxOptions{})
	x := ctx(t)
	_, port := startApp(t, srv, sb, "127.0.0.1:0", "")
	e, err := sb.ExposeApp(x, port, sc.ExposeOptions{Name: "web", Visibility: "public"})
	if err != nil || *e.URL != "https://"+*e.Capability+"--web--apps-5.preview.example.com/" {
		t.Fatalf("%+v %v", e, err)
	}
	apps, err := sb.ListApps(x)
	if err != nil || len(apps) != 1 || *apps[0].URL != *e.URL {
		t.Fatalf("%+v %v", apps, err)
	}
}

// field is a result member: the JSON kinds it may have, and whether it
// may be absent.
type field struct {
	kinds    string // "string|null", …
	optional bool
}

// checkSchema checks a decoded result against the upstream SDK's result
// schema (core's session-protocol.ts): every required member present with
// an allowed kind, optional ones absent or allowed.
func checkSchema(t *testing.T, what string, v any, schema map[string]field) {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Errorf("%s: %v is not an object", what, v)
		return
	}
	kind := func(x any) string {
		switch x.(type) {
		case nil:
			return "null"
		case string:
			return "string"
		case float64:
			return "number"
		case bool:
			return "boolean"
		case []any:
			return "array"
		}
		return "object"
	}
	for k, f := range schema {
		x, has := m[k]
		if !has {
			if !f.optional {
				t.Errorf("%s: %s missing in %v", what, k, m)
			}
			continue
		}
		if !strings.Contains("|"+f.kinds+"|", "|"+kind(x)+"|") {
			t.Errorf("%s: %s is %s (%v), want %s", what, k, kind(x), x, f.kinds)
		}
	}
}

// TestAppResultSchemas checks every app op's raw result against the SDK's
// schemas, so a member the typed client would silently zero cannot go
// missing.
func TestAppResultSchemas(t *testing.T) {
	srv, hs := newServer(t)
	const id = "apps-schema"
	sb := box(t, hs.URL, id)
	_, port := startApp(t, srv, sb, "127.0.0.1:0", "")
	result := func(op string, args ...any) any {
		st, body := rawRPC(t, hs.URL, id, op, args...)
		var env struct {
			OK     bool `json:"ok"`
			Result any  `json:"result"`
		}
		if err := json.Unmarshal([]byte(body), &env); err != nil || st != 200 || !env.OK {
			t.Fatalf("%s: %d %s", op, st, body)
		}
		return env.Result
	}
	exposedApp := map[string]field{
		"owner": {kinds: "string"}, "name": {kinds: "string|null"}, "port": {kinds: "number"}, "pid": {kinds: "number|null"},
		"capability": {kinds: "string|null"}, "visibility": {kinds: "string"}, "url": {kinds: "string|null"}, "execId": {kinds: "string", optional: true},
	}
	app := map[string]field{
		"owner": {kinds: "string"}, "name": {kinds: "string|null"}, "port": {kinds: "number|null"}, "pid": {kinds: "number|null"},
		"status": {kinds: "string"}, "visibility": {kinds: "string"}, "capability": {kinds: "string|null"}, "restart": {kinds: "string"},
		"diagnostic": {kinds: "string|null"}, "url": {kinds: "string|null"}, "execId": {kinds: "string", optional: true},
	}
	removed := map[string]field{"owner": {kinds: "string"}, "removed": {kinds: "boolean"}, "port": {kinds: "number|null"}}
	checkApps := func() {
		for i, a := range result("listApps").([]any) {
			checkSchema(t, "listApps["+strconv.Itoa(i)+"]", a, app)
			m := a.(map[string]any)
			switch m["status"] {
			case "running", "starting", "stopped", "failed":
			default:
				t.Errorf("status %v", m["status"])
			}
			if r := m["restart"]; r != "never" && r != "on-failure" {
				t.Errorf("restart %v", r)
			}
		}
	}
	checkApps()
	checkSchema(t, "exposePort", result("exposePort", port, map[string]any{}), map[string]field{
		"port": {kinds: "number"}, "listening": {kinds: "boolean"}, "pid": {kinds: "number|null"}, "registeredAt": {kinds: "number|null"},
		"capability": {kinds: "string|null"}, "visibility": {kinds: "string", optional: true}, "owner": {kinds: "string|null", optional: true},
		"name": {kinds: "string|null", optional: true}, "execId": {kinds: "string", optional: true},
	})
	checkSchema(t, "exposeApp", result("exposeApp", port, map[string]any{"name": "web"}), exposedApp)
	checkSchema(t, "rotateLink", result("rotateLink", "web"), exposedApp)
	checkSchema(t, "ensureDurableApp", result("ensureDurableApp", map[string]any{"owner": "svc"}), map[string]field{
		"port": {kinds: "number"}, "capability": {kinds: "string|null"}, "visibility": {kinds: "string"},
	})
	checkApps()
	checkSchema(t, "listPorts[0]", result("listPorts").([]any)[0], map[string]field{
		"port": {kinds: "number"}, "pid": {kinds: "number"}, "registeredAt": {kinds: "number"}, "capability": {kinds: "string"}, "execId": {kinds: "string", optional: true},
	})
	checkSchema(t, "removeDurableApp", result("removeDurableApp", map[string]any{"owner": "svc"}), removed)
	checkSchema(t, "removeApp", result("removeApp", "web"), removed)
	checkApps()
}

// BenchmarkListApps measures listApps with one app server running: the
// scan of the host's sockets and processes that finds who serves which
// port. BenchmarkExistsFloor is a trivial op over the same path, the floor.
func BenchmarkListApps(b *testing.B) {
	sb, x := benchApps(b)
	for b.Loop() {
		if apps, err := sb.ListApps(x); err != nil || len(apps) != 1 {
			b.Fatal(apps, err)
		}
	}
}

func BenchmarkExistsFloor(b *testing.B) {
	sb, x := benchApps(b)
	for b.Loop() {
		if _, err := sb.Exists(x, "/home/user"); err != nil {
			b.Fatal(err)
		}
	}
}

// benchApps is a sandbox with one app server running.
func benchApps(b *testing.B) (*sc.Sandbox, context.Context) {
	srv, hs := newServer(b)
	sb := box(b, hs.URL, "bench-apps")
	startApp(b, srv, sb, "127.0.0.1:0", "")
	return sb, ctx(b)
}

// TestAppsSaveErrorNamesNoHostPath: when the apps table cannot be saved
// (here <data>/apps is a file, so its directory cannot be made), the
// answer names the failure by its errno, not by the host path of the data
// directory, and the exposure is not kept.
func TestAppsSaveErrorNamesNoHostPath(t *testing.T) {
	dir := t.TempDir()
	var log serverLog
	_, hs := newServer(t, func(o *localsandbox.Options) { o.DataDir = dir }, log.option)
	if err := os.WriteFile(filepath.Join(dir, "apps"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	id := "apps-save"
	port := freePort(t)
	st, code, msg := rpcErr(t, hs.URL, id, "exposePort", port)
	if st != 500 || code != "E_NIMBUS_REMOTE_RPC" || msg != "cannot save the sandbox's apps: ENOTDIR: not a directory" {
		t.Errorf("exposePort with an unwritable apps table: %d %s %q", st, code, msg)
	}
	if strings.Contains(msg, dir) {
		t.Errorf("the answer names the host data directory: %q", msg)
	}
	// The operator is told where: the server's log has the host path.
	if got := log.String(); !strings.Contains(got, "cannot save the sandbox's apps in sandbox "+id) || !strings.Contains(got, filepath.Join(dir, "apps")) {
		t.Errorf("the server's log does not name the host path: %q", got)
	}
	if st, body := rawRPC(t, hs.URL, id, "listPorts"); st != 200 || strings.Contains(body, strconv.Itoa(port)) {
		t.Errorf("the refused exposure was kept: %d %s", st, body)
	}
}
