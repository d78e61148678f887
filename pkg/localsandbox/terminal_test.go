//go:build unix

package localsandbox_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/terminal/frame"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// wsURL is the terminal socket of sandbox id on server base.
func wsURL(base, id string) string {
	return "ws" + strings.TrimPrefix(base, "http") + "/s/" + id + "/ws"
}

// termClient is a raw protocol client of the terminal socket.
type termClient struct {
	t      *testing.T
	ws     *websocket.Conn
	out    strings.Builder
	frames []frame.Frame
	bare   []string
}

func dialTerm(t *testing.T, base, id, tok string) (*termClient, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	ws, resp, err := websocket.Dial(ctx(t), wsURL(base, id), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, resp, err
	}
	ws.SetReadLimit(64 << 20)
	c := &termClient{t: t, ws: ws}
	t.Cleanup(func() { _ = ws.CloseNow() })
	return c, resp, nil
}

func mustDialTerm(t *testing.T, base, id string) *termClient {
	t.Helper()
	c, resp, err := dialTerm(t, base, id, mint(t, id, token.ScopeSessionAttach))
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, status(resp))
	}
	return c
}

func status(resp *http.Response) string {
	if resp == nil {
		return "no response"
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.Status + " " + string(b)
}

// next reads one message; it fails the test on a read error.
func (c *termClient) next(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, msg, err := c.ws.Read(ctx)
	if err != nil {
		return err
	}
	f, derr := frame.Decode(msg)
	if derr != nil {
		c.bare = append(c.bare, string(msg))
		return nil
	}
	c.frames = append(c.frames, f)
	if f.Type == frame.TypeOutput {
		c.out.WriteString(f.Data)
	}
	return nil
}

// until reads until the output contains want.
func (c *termClient) until(want string) string {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(c.out.String(), want) {
		if err := c.next(time.Until(deadline)); err != nil {
			c.t.Fatalf("waiting for %q: %v; output so far %q", want, err, c.out.String())
		}
	}
	return c.out.String()
}

// closed reads until the socket closes and returns its close error.
func (c *termClient) closed() websocket.CloseError {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := c.next(time.Until(deadline))
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			c.t.Fatalf("socket ended without a close frame: %v", err)
		}
		return ce
	}
}

func (c *termClient) send(msg []byte) {
	c.t.Helper()
	if err := c.ws.Write(ctx(c.t), websocket.MessageText, msg); err != nil {
		c.t.Fatal(err)
	}
}

// shell makes the shell predictable: no prompt, so output is what the
// commands print (and the echo of what is typed).
func (c *termClient) quiet() {
	c.send(frame.Input("PS1=''; PS2=''\r"))
}

func TestTerminalRunsAShellOnAPTY(t *testing.T) {
	s, hs := newServer(t)
	c := mustDialTerm(t, hs.URL, "job-1")
	c.quiet()
	c.send(frame.Input("tty; pwd; echo \"home=$HOME\" > /tmp/where; echo done-$((1+1))\r"))
	out := c.until("done-2\r\n")
	root := s.SandboxDir("acme:alice:job-1") + "/home/user"
	if s.Isolation().Namespaces() {
		root = "/home/user"
	}
	if !strings.Contains(out, "\r\n"+root+"\r\n") {
		t.Errorf("the shell does not start in the sandbox root %s: %q", root, out)
	}
	// It runs as every command of the sandbox does: its /tmp is the
	// sandbox's.
	if b, err := os.ReadFile(s.SandboxDir("acme:alice:job-1") + "/tmp/where"); err != nil && s.Isolation().Namespaces() || err == nil && string(b) != "home="+root+"\n" {
		t.Errorf("the shell's files: %q %v", b, err)
	}
	if !strings.Contains(out, "/dev/pts/") && !strings.Contains(out, "/dev/tty") {
		t.Errorf("the shell has no terminal: %q", out)
	}
	hasReady := false
	for _, f := range c.frames {
		hasReady = hasReady || f.Type == frame.TypeReady
	}
	if !hasReady {
		t.Error("no ready frame")
	}
	// Resize reaches the PTY: stty sees it.
	c.send(frame.Resize(132, 43))
	c.send(frame.Input("stty size\r"))
	c.until("43 132\r\n")
	// A zero or missing dimension keeps the current one.
	c.send([]byte(`{"type":"resize","cols":100}`))
	c.send(frame.Input("stty size\r"))
	c.until("43 100\r\n")
	// Keepalive and the browser's liveness probe are answered; garbage is
	// ignored.
	c.send([]byte("garbage"))
	_ = c.ws.Write(ctx(t), websocket.MessageBinary, []byte{0xff, 0xfe})
	c.send([]byte(frame.Ping))
	c.send(frame.Probe("liveness-7"))
	deadline := time.Now().Add(10 * time.Second)
	gotPong, gotProbe := false, false
	for !(gotPong && gotProbe) {
		if err := c.next(time.Until(deadline)); err != nil {
			t.Fatalf("pong %v probe %v: %v", gotPong, gotProbe, err)
		}
		for _, b := range c.bare {
			gotPong = gotPong || b == frame.Pong
		}
		for _, f := range c.frames {
			gotProbe = gotProbe || f.Type == frame.TypeFSWatchUnsubscribeResult && string(f.ReqID) == `"liveness-7"`
		}
	}
	// UTF-8 split across PTY reads arrives whole.
	c.send(frame.Input("printf 'caf\\303'; sleep 0.2; printf '\\251!\\n'\r"))
	c.until("café!\r\n")
}

func TestTerminalHandshakeChecks(t *testing.T) {
	_, hs := newServer(t)
	get := func(path string, h http.Header) (int, string) {
		req, _ := http.NewRequest("GET", hs.URL+path, nil)
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return resp.StatusCode, ""
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	upgrade := http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}
	withAuth := func(h http.Header, tok string) http.Header {
		h = h.Clone()
		if h == nil {
			h = http.Header{}
		}
		h.Set("Authorization", "Bearer "+tok)
		return h
	}
	if code, body := get("/s/bad%20id/ws", withAuth(upgrade, mint(t, "", token.ScopeSessionAttach))); code != 400 || body != "Invalid session" {
		t.Errorf("bad id: %d %q", code, body)
	}
	if code, body := get("/s/job-1/ws", upgrade); code != 401 || !strings.Contains(body, "E_TOKEN_MALFORMED") {
		t.Errorf("no token: %d %q", code, body)
	}
	if code, body := get("/s/job-1/ws", withAuth(upgrade, mint(t, "job-1", token.ScopeSandboxUse))); code != 403 || !strings.Contains(body, `"code":"E_SCOPE_MISSING"`) || !strings.Contains(body, "session:attach") {
		t.Errorf("sandbox:use only: %d %q", code, body)
	}
	if code, body := get("/s/job-1/ws", withAuth(upgrade, mint(t, "job-2", token.ScopeSessionAttach))); code != 403 || !strings.Contains(body, "E_SESSION_PIN_MISMATCH") {
		t.Errorf("pinned elsewhere: %d %q", code, body)
	}
	if code, body := get("/s/job-1/ws", withAuth(nil, mint(t, "job-1", token.ScopeSessionAttach))); code != 426 || body != "Expected WebSocket" {
		t.Errorf("no upgrade: %d %q", code, body)
	}
	// A cookie is a credential only from the server's own origin: a page
	// elsewhere cannot open the terminal with the user's cookie.
	cookie := upgrade.Clone()
	cookie.Set("Cookie", token.CookieName+"="+mint(t, "job-1", token.ScopeSessionAttach))
	cross := cookie.Clone()
	cross.Set("Origin", "https://evil.example")
	cross.Set("Sec-Fetch-Site", "cross-site")
	if code, body := get("/s/job-1/ws", cross); code != 403 || !strings.Contains(body, "E_CROSS_SITE_REFUSED") {
		t.Errorf("cross-site cookie: %d %q", code, body)
	}
	same := cookie.Clone()
	same.Set("Origin", hs.URL)
	same.Set("Sec-Fetch-Site", "same-origin")
	if code, body := get("/s/job-1/ws", same); code != 101 {
		t.Errorf("same-origin cookie: %d %q", code, body)
	}
	// The query token works on the upgrade (the hosted demo's URLs), from
	// any origin: it is not ambient.
	c, resp, err := websocket.Dial(ctx(t), wsURL(hs.URL, "job-9")+"?nimbus_token="+mint(t, "job-9", token.ScopeSessionAttach),
		&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://elsewhere.example"}}})
	if err != nil {
		t.Fatalf("query token: %v %s", err, status(resp))
	}
	c.CloseNow()
}

func TestTerminalScrollbackReplayedOnce(t *testing.T) {
	_, hs := newServer(t)
	c := mustDialTerm(t, hs.URL, "job-1")
	c.quiet()
	c.send(frame.Input("echo mark-$((6*7))\r"))
	c.until("mark-42\r\n")
	if err := c.ws.Close(websocket.StatusNormalClosure, "detach"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		// A clean close frees the terminal at once; the shell lives on.
		c = mustDialTerm(t, hs.URL, "job-1")
		c.send(frame.Input("echo attach-$((40+" + string(rune('0'+i)) + "))\r"))
		out := c.until("attach-4" + string(rune('0'+i)) + "\r\n")
		if n := strings.Count(out, "mark-42\r\n"); n != 1 {
			t.Fatalf("attach %d: the replay shows the old output %d times:\n%q", i, n, out)
		}
		if err := c.ws.Close(websocket.StatusNormalClosure, "detach"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTerminalOwnership(t *testing.T) {
	_, hs := newServer(t, func(o *localsandbox.Options) { o.TerminalOwnerTimeout = 2 * time.Second })
	first := mustDialTerm(t, hs.URL, "job-1")
	first.send(frame.Input("echo one\r"))
	first.until("one")
	// A second client gets upstream's 409 while the first is heard from.
	_, resp, err := dialTerm(t, hs.URL, "job-1", mint(t, "job-1", token.ScopeSessionAttach))
	if err == nil || resp == nil || resp.StatusCode != 409 {
		t.Fatalf("second attach: %v %s", err, status(resp))
	}
	if body := status(resp); !strings.Contains(body, `{"error":"session already has active terminal","hint":"open a new /new session"}`) {
		t.Fatalf("409 body: %s", body)
	}
	// Another sandbox's terminal is another terminal.
	mustDialTerm(t, hs.URL, "job-2")
	// Once the first has been silent past the owner timeout, a new client
	// takes over and the first is closed with 1001.
	deadline := time.Now().Add(20 * time.Second)
	var second *termClient
	for second == nil {
		time.Sleep(200 * time.Millisecond)
		c, resp, err := dialTerm(t, hs.URL, "job-1", mint(t, "job-1", token.ScopeSessionAttach))
		if err == nil {
			second = c
			break
		}
		if resp == nil || resp.StatusCode != 409 || time.Now().After(deadline) {
			t.Fatalf("takeover: %v %s", err, status(resp))
		}
	}
	if ce := first.closed(); ce.Code != websocket.StatusGoingAway || ce.Reason != "terminal taken over" {
		t.Fatalf("first closed with %v", ce)
	}
	second.send(frame.Input("echo two\r"))
	second.until("two")
}

func TestTerminalEnds(t *testing.T) {
	s, hs := newServer(t)
	// The shell exits: 1000 "terminal closed", and the next attach starts
	// a new shell.
	c := mustDialTerm(t, hs.URL, "job-1")
	c.quiet()
	c.send(frame.Input("echo $$ > /tmp/pid1; exit\r"))
	if ce := c.closed(); ce.Code != websocket.StatusNormalClosure || ce.Reason != "terminal closed" {
		t.Fatalf("shell exit: %v", ce)
	}
	c = mustDialTerm(t, hs.URL, "job-1")
	c.quiet()
	c.send(frame.Input("echo again-$((1+1))\r"))
	c.until("again-2")
	// Destroy closes it with 1000 "session destroyed" and kills the shell.
	sb := box(t, hs.URL, "job-1", token.ScopeSandboxUse, token.ScopeSessionDestroy)
	if _, err := sb.Destroy(ctx(t), "test"); err != nil {
		t.Fatal(err)
	}
	if ce := c.closed(); ce.Code != websocket.StatusNormalClosure || ce.Reason != "session destroyed" {
		t.Fatalf("destroy: %v", ce)
	}
	// The server going away closes with 1012: a client may come back.
	c = mustDialTerm(t, hs.URL, "job-3")
	c.send(frame.Input("echo up\r"))
	c.until("up")
	_ = s.Close()
	if ce := c.closed(); ce.Code != websocket.StatusServiceRestart {
		t.Fatalf("server close: %v", ce)
	}
}

// A script piped into session attach that ends with exit confirms its
// input with a probe sent after it (spec §5), and the shell's exit closes
// the terminal (1000 "terminal closed"). The probe is answered before the
// close even when the socket's reader gets to it only once the close has
// begun: the close went out first, and the attach exited 69
// (E_TERMINAL_CLOSED_EARLY) for a script whose work was done, now and then
// on a loaded machine.
func TestTerminalAnswersTheProbeBeforeTheShellsClose(t *testing.T) {
	defer localsandbox.HoldProbeReplyUntilClosing()()
	_, hs := newServer(t)
	c := mustDialTerm(t, hs.URL, "job-1")
	c.send(frame.Input("echo bye-$((3+4)); exit\r"))
	c.send(frame.Probe("input-end-1"))
	if ce := c.closed(); ce.Code != websocket.StatusNormalClosure || ce.Reason != "terminal closed" {
		t.Fatalf("shell exit: %v", ce)
	}
	if !answered(c.frames, `"input-end-1"`) || !strings.Contains(c.out.String(), "bye-7") {
		t.Fatalf("the probe sent after the input was not answered before the close (output %q)", c.out.String())
	}
}

// Input that reaches a terminal whose shell has exited, while its close is
// on its way, is dropped without dropping the socket (the close frame
// still comes), and a probe after it is not answered: it must not confirm
// input that never reached a shell. The client reads nothing until all is
// sent, so the server is still waiting for its pong when the late input
// and probe arrive.
func TestTerminalDroppedInputIsNotConfirmed(t *testing.T) {
	defer localsandbox.HoldProbeReplyUntilClosing()()
	_, hs := newServer(t)
	c := mustDialTerm(t, hs.URL, "job-1")
	c.send(frame.Input("exit\r"))
	c.send(frame.Probe("input-1"))
	c.send(frame.Input("echo lost\r"))
	c.send(frame.Probe("input-end-2"))
	if ce := c.closed(); ce.Code != websocket.StatusNormalClosure || ce.Reason != "terminal closed" {
		t.Fatalf("shell exit: %v", ce)
	}
	if !answered(c.frames, `"input-1"`) {
		t.Fatal("the probe after the exit was not answered")
	}
	if answered(c.frames, `"input-end-2"`) {
		t.Fatal("a probe after input the ended terminal dropped was answered")
	}
}

func answered(frames []frame.Frame, reqID string) bool {
	for _, f := range frames {
		if f.Type == frame.TypeFSWatchUnsubscribeResult && string(f.ReqID) == reqID {
			return true
		}
	}
	return false
}

func TestTerminalBoundsMessages(t *testing.T) {
	_, hs := newServer(t)
	c := mustDialTerm(t, hs.URL, "job-1")
	big := frame.Input(strings.Repeat("x", 1<<20+1))
	_ = c.ws.Write(ctx(t), websocket.MessageText, big)
	if ce := c.closed(); ce.Code != websocket.StatusMessageTooBig {
		t.Fatalf("%v", ce)
	}
	// The terminal outlives the client that broke the rule.
	c = mustDialTerm(t, hs.URL, "job-1")
	c.send(frame.Input("echo still-$((1+1))\r"))
	c.until("still-2")
}

// TestTerminalInputNeverStopsTheSocket: input for a program that does not
// read it (raw mode: the PTY takes a few KiB, then blocks writes) used to
// be written by the socket's reader, which then stopped: pings went
// unanswered and a client that detached was not noticed, so attaching
// again got 409 for the owner timeout. The input now waits in a bounded
// queue and reaches the program whole once it reads.
func TestTerminalInputNeverStopsTheSocket(t *testing.T) {
	_, hs := newServer(t)
	tok := mint(t, "job-1", token.ScopeSandboxUse)
	c := mustDialTerm(t, hs.URL, "job-1")
	c.quiet()
	const n = 800 << 10
	// REA""DY: the terminal echoes the typed line, which must not match;
	// input sent before stty raw -echo has run goes to the cooked line
	// editor, which keeps at most 4095 bytes of a line and drops the rest.
	c.send(frame.Input("cd /home/user; stty raw -echo; echo REA\"\"DY; while [ ! -e go ]; do sleep 0.05; done; echo got=$(head -c $((800*1024)) | wc -c | tr -d ' '); stty sane\r"))
	c.until("READY")
	for sent := 0; sent < n; sent += 200 << 10 {
		c.send(frame.Input(strings.Repeat("x", 200<<10)))
	}
	c.send([]byte(frame.Ping))
	for len(c.bare) == 0 {
		if err := c.next(20 * time.Second); err != nil {
			t.Fatalf("no pong while the program does not read: %v", err)
		}
	}
	if c.bare[0] != frame.Pong {
		t.Fatalf("answer %q", c.bare)
	}
	// Detach and attach again at once: the server noticed.
	_ = c.ws.Close(websocket.StatusNormalClosure, "")
	c, resp, err := dialTerm(t, hs.URL, "job-1", mint(t, "job-1", token.ScopeSessionAttach))
	if err != nil {
		t.Fatalf("attach again: %v (%v)", err, status(resp))
	}
	// The program reads: everything typed arrives.
	sh(t, hs.URL, tok, "job-1", "touch /home/user/go")
	c.until("got=" + strconv.Itoa(n))
}

// TestTerminalShellThatCannotStartNamesNoHostPath: the terminal's shell
// is the host's $SHELL (nimbus dev passes it), a host path such as
// /home/alice/.nix-profile/bin/zsh; one that cannot start (here a script
// whose interpreter is missing) no longer fails the attach: the terminal
// runs the command shell, and its first line says so without naming
// where the host keeps the shell. The server's log has the path.
func TestTerminalShellThatCannotStartNamesNoHostPath(t *testing.T) {
	private := t.TempDir()
	shell := private + "/myshell"
	if err := os.WriteFile(shell, []byte("#!"+private+"/missing-interpreter\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var log serverLog
	_, hs := newServer(t, log.option, func(o *localsandbox.Options) {
		o.TerminalShell = shell
		// Host paths: in namespaces a shell under /tmp is not tried at
		// all (terminal_shell_linux_test.go).
		o.Isolation = localsandbox.IsolationHostPaths
	})
	c := mustDialTerm(t, hs.URL, "job-shell")
	c.quiet()
	c.send(frame.Input("echo \"zero=$0\"\r"))
	out := c.until("zero=/bin/sh\r\n")
	if !strings.Contains(out, "nimbus: the terminal shell myshell is not used: it could not start in this sandbox") || strings.Contains(out, private) {
		t.Fatalf("terminal %q: want the notice, without the host path %s", out, private)
	}
	if !strings.Contains(log.String(), shell) {
		t.Errorf("the server's log does not name the shell %s: %q", shell, log.String())
	}
}
