//go:build unix

package localsandbox_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// These tests speak raw HTTP to the real server, so that they hold
// whatever a client library does on top (retries, limits, readiness).

// envelope is an answer of the remote API.
type envelope struct {
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
	Code   string          `json:"code"`
	status int
}

// call posts one rpc with a bounded wait; the client is never what hangs.
func call(t testing.TB, url, tok, id, op string, args ...any) envelope {
	t.Helper()
	return callTimeout(t, 20*time.Second, url, tok, id, op, args...)
}

func callTimeout(t testing.TB, wait time.Duration, url, tok, id, op string, args ...any) envelope {
	t.Helper()
	if args == nil {
		args = []any{}
	}
	body, err := json.Marshal(map[string]any{"op": op, "args": args})
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req, err := http.NewRequestWithContext(c, "POST", url+"/api/nimbus/v1/sandboxes/"+id+"/rpc", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	defer resp.Body.Close()
	var env envelope
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("%s: %d %q", op, resp.StatusCode, raw)
	}
	env.status = resp.StatusCode
	return env
}

func wireBytes(b []byte) map[string]any {
	return map[string]any{"__nimbusWireType": "bytes", "base64": base64.StdEncoding.EncodeToString(b)}
}

func (e envelope) bytes(t testing.TB) []byte {
	t.Helper()
	var w struct {
		B64 string `json:"base64"`
	}
	if err := json.Unmarshal(e.Result, &w); err != nil {
		t.Fatalf("%s: %v", e.Result, err)
	}
	b, err := base64.StdEncoding.DecodeString(w.B64)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (e envelope) exec(t testing.TB) (code int, stdout, stderr string) {
	t.Helper()
	if !e.OK {
		t.Fatalf("exec failed: %d %s %s", e.status, e.Code, e.Error)
	}
	var r struct {
		ExitCode int    `json:"exitCode"`
		Stdout   string `json:"stdout"`
		Stderr   string `json:"stderr"`
	}
	if err := json.Unmarshal(e.Result, &r); err != nil {
		t.Fatal(err)
	}
	return r.ExitCode, r.Stdout, r.Stderr
}

func sh(t testing.TB, url, tok, id, command string, opts ...map[string]any) string {
	t.Helper()
	args := []any{command}
	for _, o := range opts {
		args = append(args, o)
	}
	code, out, errOut := call(t, url, tok, id, "exec", args...).exec(t)
	if code != 0 {
		t.Fatalf("%s: exit %d: %s", command, code, errOut)
	}
	return out
}

// stalled sends a request head and the start of a body it never ends, and
// returns the answer's status (0 when none arrives within wait).
func stalled(t *testing.T, addr, head, body string, wait time.Duration) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(head + body)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestBodyLimitIsOneWriteChunk: a 20 MiB write (the client's chunk) goes
// through, and a body announced beyond what one chunk needs is refused
// before the server reads it.
func TestBodyLimitIsOneWriteChunk(t *testing.T) {
	_, hs := newServer(t)
	tok := mint(t, "box", token.ScopeSandboxUse)
	data := bytes.Repeat([]byte{0xA5, 0x5A, 0}, 20<<20/3)
	if e := call(t, hs.URL, tok, "box", "writeFile", "/home/user/big", wireBytes(data)); !e.OK {
		t.Fatalf("20 MiB write: %d %s", e.status, e.Error)
	}
	if e := call(t, hs.URL, tok, "box", "stat", "/home/user/big"); !strings.Contains(string(e.Result), `"size":`+strconv.Itoa(len(data))) {
		t.Fatalf("%s", e.Result)
	}
	addr := strings.TrimPrefix(hs.URL, "http://")
	head := "POST /api/nimbus/v1/sandboxes/box/rpc HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + tok + "\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(40<<20) + "\r\n\r\n"
	if status := stalled(t, addr, head, `{"op":"writeFile","args":["/home/user/x",`, 10*time.Second); status != 413 {
		t.Fatalf("40 MiB body: status %d, want 413 before the body is read", status)
	}
}

// TestSpecialFilesNeverHang: reading or writing a FIFO or a socket inside
// a sandbox answers at once with an errno-style error, instead of
// blocking a server thread forever.
func TestSpecialFilesNeverHang(t *testing.T) {
	// A short data directory keeps the socket path under the 104-byte
	// limit of sun_path.
	dir, err := os.MkdirTemp("", "nsp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s, hs := newServer(t, func(o *localsandbox.Options) { o.DataDir = dir })
	tok := mint(t, "sp", token.ScopeSandboxUse)
	sh(t, hs.URL, tok, "sp", "mkfifo /home/user/fifo 2>/dev/null || mkfifo \"$HOME/fifo\"")
	home := filepath.Join(s.SandboxDir("acme:alice:sp"), "home", "user")
	ln, err := net.Listen("unix", filepath.Join(home, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := os.Symlink("fifo", filepath.Join(home, "link")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"fifo", "sock", "link"} {
		p := "/home/user/" + name
		kind := map[string]string{"fifo": "fifo", "sock": "socket", "link": "fifo"}[name]
		for _, c := range []struct {
			op   string
			args []any
			verb string
		}{
			{"readFile", []any{p}, "read"},
			{"readFileBytes", []any{p}, "read"},
			{"readRange", []any{p, 0, 10}, "read"},
			{"writeFile", []any{p, "x"}, "open"},
			{"readdir", []any{p}, "scandir"},
		} {
			start := time.Now()
			e := callTimeout(t, 10*time.Second, hs.URL, tok, "sp", c.op, c.args...)
			want := "EINVAL: not a regular file (" + kind + "), " + c.verb + " '" + p + "'"
			if c.op == "readdir" {
				want = "ENOTDIR: not a directory, scandir '" + p + "'"
			}
			if e.OK || e.status != 500 || e.Code != "E_NIMBUS_REMOTE_RPC" || e.Error != want {
				t.Errorf("%s %s: %d %s %q, want %q", c.op, name, e.status, e.Code, e.Error, want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("%s %s took %v", c.op, name, d)
			}
		}
	}
	// The FIFO is still a FIFO: a refused write did not replace it.
	if fi, err := os.Lstat(filepath.Join(home, "fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("%v %v", fi, err)
	}
}

// TestWriteFileIsAtomic: readers never see a file half written: while two
// contents of 4 MiB replace each other, every stat shows the full size
// and every read one whole content. Modes and symlinks are kept, and no
// temporary file is left behind.
func TestWriteFileIsAtomic(t *testing.T) {
	s, hs := newServer(t)
	tok := mint(t, "at", token.ScopeSandboxUse)
	const size = 4 << 20
	contents := [][]byte{bytes.Repeat([]byte("a"), size), bytes.Repeat([]byte("b"), size)}
	if e := call(t, hs.URL, tok, "at", "writeFile", "/home/user/f", wireBytes(contents[0])); !e.OK {
		t.Fatal(e.Error)
	}
	hostFile := filepath.Join(s.SandboxDir("acme:alice:at"), "home", "user", "f")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if e := call(t, hs.URL, tok, "at", "writeFile", "/home/user/f", wireBytes(contents[i%2])); !e.OK {
				t.Error(e.Error)
				return
			}
		}
	}()
	deadline := time.Now().Add(3 * time.Second)
	checks := 0
	for time.Now().Before(deadline) {
		fi, err := os.Stat(hostFile)
		if err != nil || fi.Size() != size {
			t.Errorf("stat during a write: %v %v", fi, err)
			break
		}
		b, err := os.ReadFile(hostFile)
		if err != nil || len(b) != size || !bytes.Equal(b, contents[0]) && !bytes.Equal(b, contents[1]) {
			t.Errorf("read during a write: %d bytes, %v", len(b), err)
			break
		}
		checks++
	}
	close(stop)
	wg.Wait()
	if checks == 0 {
		t.Fatal("no check ran")
	}
	// The mode of an existing file is kept; a new file gets 0644 less the
	// umask, as before.
	sh(t, hs.URL, tok, "at", "chmod 0751 f && ln -s f link && mkdir d")
	if e := call(t, hs.URL, tok, "at", "writeFile", "/home/user/link", "new"); !e.OK {
		t.Fatal(e.Error)
	}
	if out := sh(t, hs.URL, tok, "at", "stat -c '%a %F' f link; cat f; ls -A"); out != "751 regular file\n777 symbolic link\nnewd\nf\nlink\n" {
		t.Fatalf("%q", out)
	}
	if e := call(t, hs.URL, tok, "at", "writeFile", "/home/user/d", "x"); e.OK || e.Error != "EISDIR: illegal operation on a directory, open '/home/user/d'" {
		t.Fatalf("%+v", e)
	}
	if e := call(t, hs.URL, tok, "at", "writeFile", "/home/user/nodir/x", "x"); e.OK || e.Error != "ENOENT: no such file or directory, open '/home/user/nodir/x'" {
		t.Fatalf("%+v", e)
	}
	if out := sh(t, hs.URL, tok, "at", "ls -A"); out != "d\nf\nlink\n" {
		t.Fatalf("left behind: %q", out)
	}
}

// TestDestroyIsABarrier: requests racing a destroy either finish before it
// or run on the fresh sandbox after it; none answers ok for work that is
// then lost, and the sandbox works afterwards.
func TestDestroyIsABarrier(t *testing.T) {
	_, hs := newServer(t)
	tok := mint(t, "bar", token.ScopeSandboxUse, token.ScopeSessionDestroy)
	// Enough files that removing the sandbox takes a while.
	sh(t, hs.URL, tok, "bar", "mkdir -p t && cd t && i=0; while [ $i -lt 20 ]; do mkdir d$i; (cd d$i && touch $(seq 1 100)); i=$((i+1)); done")
	// A command that runs across the destroy is killed, never reported as
	// a success.
	execDone := make(chan envelope, 1)
	go func() {
		execDone <- call(t, hs.URL, tok, "bar", "exec", "touch started; sleep 20; echo finished")
	}()
	for i := 0; string(call(t, hs.URL, tok, "bar", "exists", "/home/user/started").Result) != "true"; i++ {
		if i == 1000 {
			t.Fatal("the command never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var last string
	writesAfter := 0
	destroyed := make(chan envelope, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; writesAfter < 30; i++ {
			content := "write " + strconv.Itoa(i)
			select {
			case <-destroyed:
				writesAfter = 1
			default:
				if writesAfter > 0 {
					writesAfter++
				}
			}
			e := call(t, hs.URL, tok, "bar", "writeFile", "/home/user/f", content)
			if !e.OK {
				t.Errorf("write during destroy: %d %s %s", e.status, e.Code, e.Error)
				return
			}
			last = content
		}
	}()
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	d := call(t, hs.URL, tok, "bar", "destroy")
	t.Logf("destroy took %v", time.Since(start))
	destroyed <- d
	wg.Wait()
	if !d.OK {
		t.Fatalf("destroy: %d %s", d.status, d.Error)
	}
	e := call(t, hs.URL, tok, "bar", "readFile", "/home/user/f")
	if !e.OK || string(e.Result) != strconv.Quote(last) {
		t.Fatalf("after destroy: %+v, want %q", e, last)
	}
	if out := sh(t, hs.URL, tok, "bar", "ls -A; echo ok"); out != "f\nok\n" {
		t.Fatalf("the fresh sandbox: %q", out)
	}
	select {
	case e := <-execDone:
		if e.OK {
			if code, out, _ := e.exec(t); code == 0 || strings.Contains(out, "finished") {
				t.Fatalf("the command outlived the destroy: %d %q", code, out)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the command did not end with the destroy")
	}
}

// TestHugeTimeoutIsClamped: a timeoutMs too large for a timer (1e300)
// means "no practical limit", not "kill at once".
func TestHugeTimeoutIsClamped(t *testing.T) {
	_, hs := newServer(t)
	tok := mint(t, "to", token.ScopeSandboxUse)
	for _, v := range []any{1e300, "1e300", 9.3e15, 2147483648} {
		code, out, errOut := call(t, hs.URL, tok, "to", "exec", "sleep 0.2; echo ran", map[string]any{"timeoutMs": v}).exec(t)
		if code != 0 || out != "ran\n" {
			t.Fatalf("timeoutMs %v: exit %d %q %q", v, code, out, errOut)
		}
	}
	e := call(t, hs.URL, tok, "to", "startProcess", "sleep 5", map[string]any{"timeoutMs": 1e300})
	if !e.OK {
		t.Fatal(e.Error)
	}
	time.Sleep(300 * time.Millisecond)
	if e := call(t, hs.URL, tok, "to", "listProcesses"); !strings.Contains(string(e.Result), `"running"`) {
		t.Fatalf("the process was killed: %s", e.Result)
	}
}

// TestReadRangeAllocatesWhatTheFileHolds: asking for 28 MiB of a 5-byte
// file costs the server 5 bytes, not 28 MiB.
func TestReadRangeAllocatesWhatTheFileHolds(t *testing.T) {
	_, hs := newServer(t)
	tok := mint(t, "rr", token.ScopeSandboxUse)
	if e := call(t, hs.URL, tok, "rr", "writeFile", "/home/user/small", "hello"); !e.OK {
		t.Fatal(e.Error)
	}
	call(t, hs.URL, tok, "rr", "readRange", "/home/user/small", 1, 2)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	e := call(t, hs.URL, tok, "rr", "readRange", "/home/user/small", 1, localsandbox.DefaultReadLimit)
	runtime.ReadMemStats(&after)
	if got := e.bytes(t); string(got) != "ello" {
		t.Fatalf("%q", got)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 4<<20 {
		t.Fatalf("one small readRange allocated %d bytes", d)
	}
	if got := call(t, hs.URL, tok, "rr", "readRange", "/home/user/small", 9, 4).bytes(t); len(got) != 0 {
		t.Fatalf("past the end: %q", got)
	}
}

// TestNamedShellStateCannotBeForged: what a command writes to fd 3, or
// leaves behind on it, never becomes the state of its named shell; only
// its real cwd and environment do. A flood on fd 3 does not block it.
func TestNamedShellStateCannotBeForged(t *testing.T) {
	_, hs := newServer(t)
	tok := mint(t, "fd", token.ScopeSandboxUse)
	shell := map[string]any{"shellId": "s1"}
	sh(t, hs.URL, tok, "fd", "mkdir -p forged real")
	sh(t, hs.URL, tok, "fd", `printf '%s/home/user/forged\nFORGED=1\0' "$NIMBUS_SANDBOX_DIR" >&3; export REAL=1; cd real; printf 'junk\n' >&3`, shell)
	if out := sh(t, hs.URL, tok, "fd", `pwd; echo "F=$FORGED R=$REAL"`, shell); !strings.HasSuffix(out, "/home/user/real\nF= R=1\n") {
		t.Fatalf("%q", out)
	}
	done := make(chan string, 1)
	go func() {
		done <- sh(t, hs.URL, tok, "fd", `head -c 3000000 /dev/zero >&3; cd ..; echo flooded`, shell)
	}()
	select {
	case out := <-done:
		if out != "flooded\n" {
			t.Fatalf("%q", out)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("a command that writes 3 MB to fd 3 hangs")
	}
	if out := sh(t, hs.URL, tok, "fd", `pwd; echo "R=$REAL"`, shell); !strings.HasSuffix(out, "/home/user\nR=1\n") {
		t.Fatalf("after the flood: %q", out)
	}
}

// TestPreviewCookieIsStrictPinnedAndShort: the cookie set from a preview
// link is SameSite=Strict, scoped to the sandbox's path, short-lived, and
// holds a token that can only attach to that sandbox (not the link's
// token, which may run commands).
func TestPreviewCookieIsStrictPinnedAndShort(t *testing.T) {
	_, hs := newServer(t)
	full := mint(t, "", token.ScopeSandboxUse, token.ScopeSessionAttach, token.ScopeSessionDestroy)
	app := httpApp(t)
	if e := call(t, hs.URL, full, "pv", "exposePort", app); !e.OK {
		t.Fatal(e.Error)
	}
	// The path door's cookie, under a name that is not loopback
	// (--allow-host); a preview host's is TestPreviewHost's.
	c, remote := browser(t, hs), named(hs, "dev.example")
	resp, err := c.Get(remote + "/s/pv/port/" + strconv.Itoa(app) + "/?nimbus_token=" + full)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies %v", resp.Header.Values("Set-Cookie"))
	}
	ck := cookies[0]
	if ck.SameSite != http.SameSiteStrictMode || ck.Path != "/s/pv/" || !ck.HttpOnly || ck.MaxAge <= 0 || ck.MaxAge > 3600 {
		t.Fatalf("cookie %s", resp.Header.Get("Set-Cookie"))
	}
	if ck.Value == full {
		t.Fatal("the cookie holds the link's token")
	}
	v, err := token.Verifier{Secret: secret}.Verify(ck.Value)
	if err != nil {
		t.Fatal(err)
	}
	if sid, _ := v.Claims.SessionID(); sid != "pv" {
		t.Fatalf("sid %q", sid)
	}
	if scopes, _ := v.Claims.Scopes(); strings.Join(scopes, ",") != token.ScopeSessionAttach {
		t.Fatalf("scopes %v", scopes)
	}
	if v.DOInstanceName != "acme:alice" || v.Claims.ExpiresAt()-v.Claims.IssuedAt() > 3600 {
		t.Fatalf("%s exp-iat %v", v.DOInstanceName, v.Claims.ExpiresAt()-v.Claims.IssuedAt())
	}
	// The cookie opens the preview, and nothing else.
	req, _ := http.NewRequest("GET", remote+"/s/pv/port/"+strconv.Itoa(app)+"/x", nil)
	req.AddCookie(ck)
	if resp, err := c.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("preview with the cookie: %v %v", resp, err)
	}
	req, _ = http.NewRequest("POST", hs.URL+"/api/nimbus/v1/sandboxes/pv/rpc", strings.NewReader(`{"op":"exec","args":["id"]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cookie", token.CookieName+"="+ck.Value)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("the preview token ran a command: %d", resp.StatusCode)
	}
}

// httpApp serves 200 "app" on a loopback port and returns the port.
func httpApp(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "app")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// TestProcessInputNeverBlocks: writeProcessInput to a process that does
// not read its input answers at once (before, the first write beyond the
// 64 KiB pipe buffer held its request, and a thread, for ever); what waits
// is bounded, and a write beyond the bound says so and writes nothing.
// Input to a process that reads arrives whole and in order, and
// endProcessInput closes it after what was written before.
func TestProcessInputNeverBlocks(t *testing.T) {
	_, hs := newServer(t)
	tok := mint(t, "in", token.ScopeSandboxUse)
	start := func(cmd string) float64 {
		t.Helper()
		e := call(t, hs.URL, tok, "in", "startProcess", cmd)
		var r struct {
			PID float64 `json:"pid"`
		}
		if !e.OK || json.Unmarshal(e.Result, &r) != nil {
			t.Fatalf("startProcess: %s %s", e.Error, e.Result)
		}
		return r.PID
	}
	acked := func(e envelope) bool {
		var r struct {
			OK bool `json:"ok"`
		}
		return e.OK && json.Unmarshal(e.Result, &r) == nil && r.OK
	}
	idle := start("sleep 60")
	mib := strings.Repeat("x", 1<<20)
	for i := range 8 {
		e := callTimeout(t, 10*time.Second, hs.URL, tok, "in", "writeProcessInput", idle, mib)
		if !acked(e) {
			t.Fatalf("write %d: %d %s %s", i, e.status, e.Error, e.Result)
		}
	}
	e := callTimeout(t, 10*time.Second, hs.URL, tok, "in", "writeProcessInput", idle, mib)
	if e.OK || e.status != 500 || e.Code != "E_NIMBUS_REMOTE_RPC" || !strings.HasPrefix(e.Error, "EAGAIN: process ") {
		t.Fatalf("write beyond the bound: %d %s %q", e.status, e.Code, e.Error)
	}
	if e := call(t, hs.URL, tok, "in", "endProcessInput", idle); !acked(e) {
		t.Fatalf("endProcessInput: %s %s", e.Error, e.Result)
	}
	for _, op := range []string{"writeProcessInput", "endProcessInput"} {
		args := []any{idle}
		if op == "writeProcessInput" {
			args = append(args, "late")
		}
		if e := call(t, hs.URL, tok, "in", op, args...); !e.OK || acked(e) {
			t.Fatalf("%s after the end: %s %s", op, e.Error, e.Result)
		}
	}
	if e := call(t, hs.URL, tok, "in", "killProcess", idle); !acked(e) {
		t.Fatalf("killProcess: %s %s", e.Error, e.Result)
	}

	reader := start("cat > /home/user/got; echo done")
	var want strings.Builder
	for i := range 40 {
		chunk := fmt.Sprintf("%03d:", i) + strings.Repeat(string(rune('a'+i%26)), 10_000+i)
		want.WriteString(chunk)
		if e := call(t, hs.URL, tok, "in", "writeProcessInput", reader, chunk); !acked(e) {
			t.Fatalf("write %d: %s %s", i, e.Error, e.Result)
		}
	}
	if e := call(t, hs.URL, tok, "in", "endProcessInput", reader); !acked(e) {
		t.Fatalf("endProcessInput: %s %s", e.Error, e.Result)
	}
	state := func() string {
		var ps []struct {
			PID   float64 `json:"pid"`
			State string  `json:"state"`
		}
		if err := json.Unmarshal(call(t, hs.URL, tok, "in", "listProcesses").Result, &ps); err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if p.PID == reader {
				return p.State
			}
		}
		return "missing"
	}
	deadline := time.Now().Add(15 * time.Second)
	for state() != "exited" {
		if time.Now().After(deadline) {
			t.Fatalf("cat did not see the end of its input: %s", state())
		}
		time.Sleep(20 * time.Millisecond)
	}
	e = call(t, hs.URL, tok, "in", "readFile", "/home/user/got")
	var got string
	if err := json.Unmarshal(e.Result, &got); err != nil || got != want.String() {
		t.Fatalf("the input arrived as %d bytes (%v), want %d", len(got), err, want.Len())
	}
}

// TestBytesObjectsDecodeAsAtob: a bytes object's base64 is read as the
// Worker's atob reads it (no padding, white space), and base64 that atob
// refuses is named as such, not as content of the wrong type.
func TestBytesObjectsDecodeAsAtob(t *testing.T) {
	_, hs := newServer(t)
	tok := mint(t, "b64", token.ScopeSandboxUse)
	bytesObj := func(b64 string) map[string]any {
		return map[string]any{"__nimbusWireType": "bytes", "base64": b64}
	}
	if e := call(t, hs.URL, tok, "b64", "writeFile", "/home/user/h", bytesObj("aGVs bG8")); !e.OK {
		t.Fatalf("unpadded: %d %s %s", e.status, e.Code, e.Error)
	}
	if got := call(t, hs.URL, tok, "b64", "readFileBytes", "/home/user/h").bytes(t); string(got) != "hello" {
		t.Fatalf("read %q", got)
	}
	// Other members do not stop an object from being bytes: the Worker's
	// wire decoder (core _shared/wire-codec.ts) asks only for
	// __nimbusWireType "bytes" and a string base64.
	extra := bytesObj("aGk=")
	extra["note"] = "x"
	if e := call(t, hs.URL, tok, "b64", "writeFile", "/home/user/x", extra); !e.OK {
		t.Fatalf("bytes object with another member: %d %s %s", e.status, e.Code, e.Error)
	}
	if got := call(t, hs.URL, tok, "b64", "readFileBytes", "/home/user/x").bytes(t); string(got) != "hi" {
		t.Fatalf("read %q", got)
	}
	e := call(t, hs.URL, tok, "b64", "writeFile", "/home/user/h", bytesObj("aGVsbG8*"))
	if e.OK || e.status != 400 || e.Code != "E_ARG_SHAPE" || e.Error != "content: the base64 of the bytes object is not base64" {
		t.Fatalf("bad base64: %d %s %q", e.status, e.Code, e.Error)
	}
}
