//go:build unix

package cmd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/nimbus-sh/nimbus/pkg/ledger"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// mcpSession starts `nimbus mcp ARGS` as a real subprocess speaking stdio
// and connects the SDK's client to it. env is added to a clean
// environment; the server's stderr is returned for inspection once the
// session is closed.
func mcpSession(t *testing.T, nimbus string, env []string, args ...string) (*mcp.ClientSession, *lockedBuffer, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(nimbus, append([]string{"mcp"}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LANG=C", "NO_COLOR=1", "TMPDIR=" + t.TempDir()}, env...)
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "NIMBUS_LEDGER=") }) {
		cmd.Env = append(cmd.Env, "NIMBUS_LEDGER="+filepath.Join(t.TempDir(), "ledger.jsonl"))
	}
	cmd.Dir = t.TempDir()
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "cmd-test", Version: "1"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, stderr.String())
	}
	return cs, stderr, cmd
}

func mcpCall(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) (map[string]any, *mcp.CallToolResult) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out map[string]any
	b, _ := json.Marshal(res.StructuredContent)
	_ = json.Unmarshal(b, &out)
	return out, res
}

func resultText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func sandboxDirs(t *testing.T, data string) []string {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(data, "sandboxes"))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestMCPOverStdioAgainstDev drives `nimbus mcp` as an MCP client would:
// a subprocess on stdio, against a real `nimbus dev`, with tokens it mints
// itself (only sandbox:use, pinned).
func TestMCPOverStdioAgainstDev(t *testing.T) {
	dev := startDevServer(t, devOptions{})
	endpoint, nimbus, data := dev.URL, dev.Nimbus, dev.Data
	led := ledger.New(filepath.Join(t.TempDir(), "ledger.jsonl"))
	env := []string{"NIMBUS_ENDPOINT=" + endpoint, "JWT_SECRET=" + devSecret, "NIMBUS_TENANT=acme", "NIMBUS_LEDGER=" + led.Path()}

	cs, stderr, proc := mcpSession(t, nimbus, env)
	var names []string
	for tool, err := range cs.Tools(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tool.Name)
	}
	if len(names) != 22 || !slices.Contains(names, "nimbus_exec") || slices.Contains(names, "nimbus_destroy") {
		t.Fatalf("tools: %v", names)
	}
	id := cs.InitializeResult().Capabilities.Extensions["nimbus.sh/sandbox"].(map[string]any)["sandbox"].(string)
	if !strings.HasPrefix(id, "mcp-") {
		t.Fatalf("fresh sandbox id %q", id)
	}
	_, res := mcpCall(t, cs, "nimbus_writeFile", map[string]any{"path": "notes/a.txt", "content": "secret-content-123"})
	if res.IsError {
		t.Fatal(resultText(res))
	}
	out, res := mcpCall(t, cs, "nimbus_exec", map[string]any{"command": "cat notes/a.txt; exit 7"})
	if res.IsError || out["stdout"] != "secret-content-123" || out["exitCode"] != 7.0 {
		t.Fatalf("exec: %v %s", out, resultText(res))
	}
	if !slices.Contains(sandboxDirs(t, data), "acme:_:"+id) {
		t.Fatalf("sandbox %s not on the dev backend: %v", id, sandboxDirs(t, data))
	}
	// While it serves, the fresh sandbox is in the cleanup ledger.
	if p, err := led.Pending(); err != nil || len(p) != 1 || p[0].ID != id || p[0].Endpoint != endpoint || p[0].By != "mcp" {
		t.Fatalf("ledger while serving: %+v %v", p, err)
	}
	// A schema violation is a tool error, not a crash.
	if _, res := mcpCall(t, cs, "nimbus_exec", map[string]any{"command": 1}); !res.IsError {
		t.Fatal("schema violation accepted")
	}
	if err := cs.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	// The server logged each call without contents, and destroyed the
	// fresh sandbox when the client went away.
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "destroyed sandbox "+id) }, stderr)
	// The client closing stdin is the normal end of a session: exit 0.
	waitFor(t, func() bool { return proc.ProcessState != nil }, stderr)
	if code := proc.ProcessState.ExitCode(); code != 0 {
		t.Errorf("nimbus mcp exited %d after the client closed the session\n%s", code, stderr)
	}
	log := stderr.String()
	for _, want := range []string{"tool=nimbus_writeFile sandbox=" + id, "tool=nimbus_exec sandbox=" + id, "exitCode=7", "error=E_INPUT_SCHEMA"} {
		if !strings.Contains(log, want) {
			t.Errorf("stderr lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "secret-content-123") || strings.Contains(log, devSecret) || strings.Contains(log, "eyJ") {
		t.Errorf("stderr leaks contents or credentials:\n%s", log)
	}
	if slices.Contains(sandboxDirs(t, data), "acme:_:"+id) {
		t.Errorf("fresh sandbox %s survived the server", id)
	}
	if p, _ := led.Pending(); len(p) != 0 {
		t.Errorf("destroyed sandbox still in the ledger: %+v", p)
	}
}

func waitFor(t *testing.T, cond func() bool, stderr *lockedBuffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out; stderr:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A given token is checked before serving; --read-only leaves the writing
// tools out; --allow-destroy adds destroy; --keep keeps the sandbox.
func TestMCPGivenTokensReadOnlyAndDestroy(t *testing.T) {
	dev := startDevServer(t, devOptions{})
	endpoint, nimbus, data := dev.URL, dev.Nimbus, dev.Data
	dir := t.TempDir()
	mintFile := func(name, sid string, scopes ...string) string {
		tn := "acme"
		in := token.Input{Tenant: &tn, Scopes: scopes}
		if sid != "" {
			in.SessionID = &sid
		}
		tok, err := token.Issuer{Secret: devSecret}.Mint(in)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// A token without sandbox:use is refused before the agent sees anything.
	attach := mintFile("attach", "ro-1", token.ScopeSessionAttach)
	c := exec.Command(nimbus, "mcp", "--endpoint", endpoint, "--token-file", attach)
	c.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1"}
	out, err := c.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 77 || !strings.Contains(string(out), "E_MCP_TOKEN") || !strings.Contains(string(out), "sandbox:use") {
		t.Fatalf("token without scope: %v\n%s", err, out)
	}

	// A pinned use-only token selects its sandbox; --read-only refuses writes.
	use := mintFile("use", "ro-1", token.ScopeSandboxUse)
	cs, stderr, _ := mcpSession(t, nimbus, nil, "--endpoint", endpoint, "--token-file", use, "--read-only")
	if _, res := mcpCall(t, cs, "nimbus_listFiles", map[string]any{}); res.IsError {
		t.Fatalf("read-only listFiles: %s", resultText(res))
	}
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "nimbus_writeFile", Arguments: map[string]any{"path": "x", "content": "y"}})
	if err == nil && !res.IsError {
		t.Fatal("read-only server wrote")
	}
	if id := cs.InitializeResult().Capabilities.Extensions["nimbus.sh/sandbox"].(map[string]any)["sandbox"]; id != "ro-1" {
		t.Fatalf("pinned token's sandbox not used: %v", id)
	}
	_ = cs.Close()
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "read-only") }, stderr)
	if strings.Contains(stderr.String(), "destroyed sandbox") {
		t.Fatal("a named sandbox was destroyed on exit")
	}

	// A broad, unpinned token works with warnings; destroy exists with
	// --allow-destroy.
	broad := mintFile("broad", "", token.ScopeSandboxUse, token.ScopeSessionDestroy, token.ScopeSessionAdmin)
	cs, stderr, _ = mcpSession(t, nimbus, nil, "--endpoint", endpoint, "--token-file", broad, "--sandbox", "d-1", "--allow-destroy")
	if _, res := mcpCall(t, cs, "nimbus_writeFile", map[string]any{"path": "f", "content": "z"}); res.IsError {
		t.Fatal(resultText(res))
	}
	if out, res := mcpCall(t, cs, "nimbus_destroy", map[string]any{"reason": "done"}); res.IsError || out["ok"] != true {
		t.Fatalf("destroy: %v %s", out, resultText(res))
	}
	if slices.Contains(sandboxDirs(t, data), "acme:_:d-1") {
		t.Fatal("destroy left the sandbox")
	}
	_ = cs.Close()
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "tool=nimbus_destroy") }, stderr)
	for _, w := range []string{"session:admin, which the MCP server does not need", "not pinned to the sandbox"} {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("no warning %q:\n%s", w, stderr)
		}
	}

	// --keep keeps a fresh sandbox, recorded in the ledger for the job's
	// clean-up step, which destroys it.
	led := ledger.New(filepath.Join(t.TempDir(), "ledger.jsonl"))
	keepEnv := []string{"JWT_SECRET=" + devSecret, "NIMBUS_TENANT=acme", "NIMBUS_LEDGER=" + led.Path()}
	cs, stderr, _ = mcpSession(t, nimbus, keepEnv, "--endpoint", endpoint, "--keep")
	id := cs.InitializeResult().Capabilities.Extensions["nimbus.sh/sandbox"].(map[string]any)["sandbox"].(string)
	mcpCall(t, cs, "nimbus_exec", map[string]any{"command": "true"})
	_ = cs.Close()
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "tool=nimbus_exec") }, stderr)
	if !slices.Contains(sandboxDirs(t, data), "acme:_:"+id) || strings.Contains(stderr.String(), "destroyed") {
		t.Fatalf("--keep: %v\n%s", sandboxDirs(t, data), stderr)
	}
	if p, _ := led.Pending(); len(p) != 1 || p[0].ID != id || !p[0].Keep {
		t.Fatalf("ledger after --keep: %+v", p)
	}
	c = exec.Command(nimbus, "sandbox", "destroy", "--ledger")
	c.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1", "NIMBUS_ENDPOINT=" + endpoint}, keepEnv...)
	if out, err := c.CombinedOutput(); err != nil || !strings.Contains(string(out), `"destroyed":["`+id+`"]`) {
		t.Fatalf("destroy --ledger: %v\n%s", err, out)
	}
	if slices.Contains(sandboxDirs(t, data), "acme:_:"+id) {
		t.Fatal("destroy --ledger left the sandbox")
	}
	if p, _ := led.Pending(); len(p) != 0 {
		t.Fatalf("ledger after the drain: %+v", p)
	}
}

// TestMCPDestroyToolForgetsTheRecordedSandbox: a sandbox given with
// --sandbox is recorded as used (completion offers it, and asks the
// Worker about it); once the destroy tool destroyed it, it is forgotten,
// as `nimbus sandbox destroy` forgets it: completing its pids would make
// it anew.
func TestMCPDestroyToolForgetsTheRecordedSandbox(t *testing.T) {
	dev := startDevServer(t, devOptions{})
	cache := t.TempDir()
	env := []string{"NIMBUS_ENDPOINT=" + dev.URL, "JWT_SECRET=" + devSecret, "NIMBUS_TENANT=acme", "XDG_CACHE_HOME=" + cache,
		"NIMBUS_LEDGER=" + filepath.Join(t.TempDir(), "ledger.jsonl")}
	complete := func() string {
		t.Helper()
		c := exec.Command(dev.Nimbus, "__complete", "sandbox", "kill", "mcp-")
		c.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1"}, env...)
		out, err := c.Output()
		if err != nil {
			t.Fatalf("__complete: %v", err)
		}
		return string(out)
	}
	cs, stderr, _ := mcpSession(t, dev.Nimbus, env, "--sandbox", "mcp-gone", "--allow-destroy")
	if out := complete(); !strings.Contains(out, "mcp-gone\n") {
		t.Fatalf("the given sandbox is not recorded: %q", out)
	}
	if out, res := mcpCall(t, cs, "nimbus_destroy", map[string]any{"reason": "done"}); res.IsError || out["ok"] != true {
		t.Fatalf("destroy: %v %s", out, resultText(res))
	}
	if slices.Contains(sandboxDirs(t, dev.Data), "acme:_:mcp-gone") {
		t.Fatal("destroy left the sandbox")
	}
	if out := complete(); strings.Contains(out, "mcp-gone") {
		t.Fatalf("the destroyed sandbox is still offered: %q", out)
	}
	_ = cs.Close()
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "tool=nimbus_destroy") }, stderr)
}

// TestMCPScripts checks nimbus mcp's command line: usage errors, start-up
// failures and --print-config.
func TestMCPScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:   "testdata/mcp",
		Cmds:  devCmds,
		Setup: devSetup,
	})
}

// keyTransport adds the access key to every request.
type keyTransport struct{ key string }

func (k keyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+k.key)
	return http.DefaultTransport.RoundTrip(r)
}

// TestMCPOverHTTP serves --local over streamable HTTP: the URL on stdout,
// the key generated into a 0600 file, requests without it refused.
func TestMCPOverHTTP(t *testing.T) {
	nimbus, err := exec.LookPath("nimbus")
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	keyFile := filepath.Join(home, "key")
	cmd := exec.Command(nimbus, "mcp", "--local", "--http", "127.0.0.1:0", "--http-key-file", keyFile, "--sandbox", "http-1")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "NIMBUS_DEV_DATA=" + filepath.Join(home, "data"), "NO_COLOR=1"}
	stderr := &lockedBuffer{}
	line, _ := startServer(t, cmd, stderr)
	if !strings.HasPrefix(line, "http://127.0.0.1:") || !strings.HasSuffix(strings.TrimSpace(line), "/mcp") {
		t.Fatalf("URL line %q\n%s", line, stderr)
	}
	url := strings.TrimSpace(line)
	// The banner's --print-config command is this server's: with --local
	// (it named --http alone, so the config it printed said to start a
	// server on the remote backend), the key file and the port it got.
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/mcp")
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "--print-config claude|cursor|vscode") }, stderr)
	want := "config  nimbus mcp --http=" + addr + " --http-key-file=" + keyFile + " --local --sandbox=http-1 --print-config claude|cursor|vscode"
	if !strings.Contains(stderr.String(), want) {
		t.Fatalf("banner lacks %q:\n%s", want, stderr)
	}
	fi, err := os.Stat(keyFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	key, _ := os.ReadFile(keyFile)

	resp, err := http.Post(url, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("request without the key: %d", resp.StatusCode)
	}
	// nimbus dev's refusals, before the key is looked at: a foreign Host
	// (DNS rebinding) and a cross-origin browser request, even with the key.
	for name, set := range map[string]func(*http.Request){
		"rebinding":        func(r *http.Request) { r.Host = "evil.example:80" },
		"cross-site":       func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") },
		"foreign origin":   func(r *http.Request) { r.Header.Set("Origin", "http://evil.example") },
		"rebinding no key": func(r *http.Request) { r.Host = "evil.example"; r.Header.Del("Authorization") },
	} {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(key)))
		set(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "E_HOST_NOT_ALLOWED") && !strings.Contains(string(body), "E_CROSS_SITE_REFUSED") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	// Names that are this machine are served (browsers resolve *.localhost
	// to loopback themselves).
	for _, host := range []string{"localhost", "app.localhost:1234", "[::1]:80"} {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{}`))
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Host %s: %d, want 401 (past the Host check, stopped by the key)", host, resp.StatusCode)
		}
	}

	tr := &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: keyTransport{strings.TrimSpace(string(key))}}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil).Connect(ctx, tr, nil)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, stderr)
	}
	defer cs.Close()
	// --local keeps background processes alive for the server's lifetime.
	if o, res := mcpCall(t, cs, "nimbus_startProcess", map[string]any{"command": "sleep 30"}); res.IsError || o["pid"] == nil {
		t.Fatalf("startProcess with --local: %v %s", o, resultText(res))
	}
	if o, res := mcpCall(t, cs, "nimbus_exec", map[string]any{"command": "echo via-http"}); res.IsError || o["stdout"] != "via-http\n" {
		t.Fatalf("exec: %v %s", o, resultText(res))
	}
	// stderr is copied from a pipe: wait for the line.
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "tool=nimbus_exec sandbox=http-1") }, stderr)
	// A key file others can read is refused.
	bad := filepath.Join(home, "bad-key")
	_ = os.WriteFile(bad, []byte("0123456789abcdef0123\n"), 0o644)
	c := exec.Command(nimbus, "--json", "mcp", "--local", "--http", "127.0.0.1:0", "--http-key-file", bad)
	c.Env = cmd.Env
	o, err := c.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 77 || !strings.Contains(string(o), "chmod 600") {
		t.Fatalf("world-readable key: %v\n%s", err, o)
	}
}

// tokenLog records the token and op of every remote API request that
// passes through a proxy in front of nimbus dev.
type tokenLog struct {
	mu   sync.Mutex
	seen []seenRequest
}

type seenRequest struct {
	op     string
	claims token.Claims
}

func (l *tokenLog) requests() []seenRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seen)
}

// recordingProxy serves endpoint through a reverse proxy that decodes the
// bearer token and the op of each rpc request.
func recordingProxy(t *testing.T, endpoint string) (string, *tokenLog) {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.FlushInterval = -1
	log := &tokenLog{}
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/rpc") && r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var req struct {
				Op string `json:"op"`
			}
			_ = json.Unmarshal(body, &req)
			tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			d, err := token.Decode(tok)
			if err != nil {
				t.Errorf("request %s without a readable token: %v", req.Op, err)
			}
			log.mu.Lock()
			log.seen = append(log.seen, seenRequest{op: req.Op, claims: d.Claims})
			log.mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(ps.Close)
	return ps.URL, log
}

// TestMCPEveryToolOverStdioLeastPrivilege calls every tool of a real
// `nimbus mcp` subprocess against `nimbus dev`, and checks the tokens the
// server minted on the wire: pinned to the sandbox with only sandbox:use for
// every tool call; session:destroy only on the destroy when it exits.
func TestMCPEveryToolOverStdioLeastPrivilege(t *testing.T) {
	dev := startDevServer(t, devOptions{})
	endpoint, nimbus, data := dev.URL, dev.Nimbus, dev.Data
	proxy, tokens := recordingProxy(t, endpoint)
	env := []string{"NIMBUS_ENDPOINT=" + proxy, "JWT_SECRET=" + devSecret, "NIMBUS_TENANT=acme"}
	cs, stderr, _ := mcpSession(t, nimbus, env)
	id := cs.InitializeResult().Capabilities.Extensions["nimbus.sh/sandbox"].(map[string]any)["sandbox"].(string)

	var listed []string
	for tool, err := range cs.Tools(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, tool.Name)
	}
	called := map[string]bool{}
	must := func(name string, args map[string]any) map[string]any {
		t.Helper()
		out, res := mcpCall(t, cs, "nimbus_"+name, args)
		if res.IsError {
			t.Fatalf("%s: %s", name, resultText(res))
		}
		called["nimbus_"+name] = true
		return out
	}
	pidOf := func(out map[string]any) int64 { return int64(out["pid"].(float64)) }
	waitExit := func(pid int64) map[string]any {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			out := must("logs", map[string]any{"pid": pid})
			if out["exit"] != nil {
				return out
			}
			if time.Now().After(deadline) {
				t.Fatalf("process %d never ended: %v", pid, out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	must("writeFile", map[string]any{"path": "w/a.txt", "content": "alpha\n"})
	if out := must("readFile", map[string]any{"path": "w/a.txt"}); out["content"] != "alpha\n" {
		t.Fatalf("readFile: %v", out)
	}
	if out := must("listFiles", map[string]any{"path": "w"}); out["count"] != 1.0 {
		t.Fatalf("listFiles: %v", out)
	}
	if out := must("exists", map[string]any{"path": "w/a.txt"}); out["exists"] != true {
		t.Fatalf("exists: %v", out)
	}
	must("deleteFile", map[string]any{"path": "w", "recursive": true})
	if out := must("exec", map[string]any{"command": "echo hi; exit 4"}); out["stdout"] != "hi\n" || out["exitCode"] != 4.0 {
		t.Fatalf("exec: %v", out)
	}
	if out := must("runCode", map[string]any{"code": "echo rc", "language": "shell"}); out["stdout"] != "rc\n" {
		t.Fatalf("runCode: %v", out)
	}
	cat := pidOf(must("startProcess", map[string]any{"command": "while read l; do echo got:$l; done"}))
	must("writeProcessInput", map[string]any{"pid": cat, "data": "one\n"})
	must("resizeProcess", map[string]any{"pid": cat, "columns": 100, "rows": 30})
	must("endProcessInput", map[string]any{"pid": cat})
	if out := waitExit(cat); !strings.Contains(out["text"].(string), "got:one") {
		t.Fatalf("logs: %v", out)
	}
	must("listProcesses", map[string]any{})
	sleeper := pidOf(must("startProcess", map[string]any{"command": "sleep 60"}))
	must("signalProcess", map[string]any{"pid": sleeper, "signal": "SIGTERM"})
	waitExit(sleeper)
	sleeper = pidOf(must("startProcess", map[string]any{"command": "sleep 60"}))
	must("killProcess", map[string]any{"pid": sleeper})
	waitExit(sleeper)

	// A real listener for the port and app tools.
	port := freeTCPPort(t)
	web := pidOf(must("startProcess", map[string]any{"command": "exec python3 -m http.server " + strconv.Itoa(port) + " --bind 127.0.0.1"}))
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(fmt.Sprint(must("listPorts", map[string]any{})["ports"]), "port:"+strconv.Itoa(port)) {
		if time.Now().After(deadline) {
			t.Fatalf("port %d never listed\n%s", port, stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out := must("exposePort", map[string]any{"port": port}); out["listening"] != true {
		t.Fatalf("exposePort: %v", out)
	}
	must("exposeApp", map[string]any{"target": port})
	if out := must("listApps", map[string]any{}); len(out["apps"].([]any)) == 0 {
		t.Fatalf("listApps: %v", out)
	}
	must("unexposePort", map[string]any{"port": port})
	must("killProcess", map[string]any{"pid": web})
	must("listRuntimes", map[string]any{})
	must("installRuntime", map[string]any{"spec": "shell"})

	for _, name := range listed {
		if !called[name] {
			t.Errorf("tool %s not called", name)
		}
	}
	_ = cs.Close()
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "destroyed sandbox "+id) }, stderr)
	if slices.Contains(sandboxDirs(t, data), "acme:_:"+id) {
		t.Errorf("sandbox %s survived", id)
	}

	// On the wire: every tool ran with a token pinned to the sandbox that
	// carries only sandbox:use; session:destroy appears only on the destroy.
	var ops, destroys int
	for _, r := range tokens.requests() {
		sid, pinned := r.claims.SessionID()
		scopes, _ := r.claims.Scopes()
		if !pinned || sid != id || r.claims.Tenant() != "acme" {
			t.Errorf("%s: token pinned to %q (pinned %v), tenant %q", r.op, sid, pinned, r.claims.Tenant())
		}
		if r.op == "destroy" {
			destroys++
			if !slices.Equal(scopes, []string{token.ScopeSandboxUse, token.ScopeSessionDestroy}) {
				t.Errorf("destroy token scopes %v", scopes)
			}
			continue
		}
		ops++
		if !slices.Equal(scopes, []string{token.ScopeSandboxUse}) {
			t.Errorf("%s: token scopes %v, want only sandbox:use", r.op, scopes)
		}
		if left := time.Until(r.claims.ExpiresTime()); left <= 0 || left > 16*time.Minute {
			t.Errorf("%s: token lives %s", r.op, left)
		}
	}
	if ops < len(listed) || destroys != 1 {
		t.Errorf("%d tool requests and %d destroys seen", ops, destroys)
	}
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// A server stopped by a signal (Ctrl-C, a CI cancel, a closed terminal)
// still destroys its fresh sandbox and takes it out of the ledger.
func TestMCPSignalStillDestroysTheFreshSandbox(t *testing.T) {
	dev := startDevServer(t, devOptions{})
	endpoint, nimbus, data := dev.URL, dev.Nimbus, dev.Data
	led := ledger.New(filepath.Join(t.TempDir(), "ledger.jsonl"))
	env := []string{"NIMBUS_ENDPOINT=" + endpoint, "JWT_SECRET=" + devSecret, "NIMBUS_TENANT=acme", "NIMBUS_LEDGER=" + led.Path()}
	// SIGHUP: the terminal that runs the client (or `nimbus mcp --http`)
	// was closed.
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		cs, stderr, proc := mcpSession(t, nimbus, env)
		id := cs.InitializeResult().Capabilities.Extensions["nimbus.sh/sandbox"].(map[string]any)["sandbox"].(string)
		if _, res := mcpCall(t, cs, "nimbus_writeFile", map[string]any{"path": "f", "content": "x"}); res.IsError {
			t.Fatal(resultText(res))
		}
		if !slices.Contains(sandboxDirs(t, data), "acme:_:"+id) {
			t.Fatalf("%s: sandbox %s not created", sig, id)
		}
		// A call still running (the agent waits on a long command) is
		// cancelled by the signal, not waited for: the server exits and
		// destroys the sandbox now, not when the command ends.
		go func() {
			_, _ = cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "nimbus_exec", Arguments: map[string]any{"command": "touch started; sleep 600"}})
		}()
		waitFor(t, func() bool {
			out, _ := mcpCall(t, cs, "nimbus_exists", map[string]any{"path": "started"})
			return out["exists"] == true
		}, stderr)
		if err := proc.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return strings.Contains(stderr.String(), "destroyed sandbox "+id) }, stderr)
		_ = cs.Close()
		// A server stopped by a signal has shut down cleanly: exit 0, not
		// 130/143 (docs/exit-codes.md, "Servers").
		if st := proc.ProcessState; st == nil || st.ExitCode() != 0 {
			t.Errorf("%s: nimbus mcp exited %v, want 0", sig, st)
		}
		if slices.Contains(sandboxDirs(t, data), "acme:_:"+id) {
			t.Errorf("%s: sandbox %s survived", sig, id)
		}
		if p, _ := led.Pending(); len(p) != 0 {
			t.Errorf("%s: ledger still holds %+v", sig, p)
		}
	}
}

// A client that goes away without a word (killed, crashed: stdin, stdout
// and stderr all closed at once, a call still running) still gets its
// fresh sandbox destroyed: writing the last log lines to the closed stderr
// must not kill the server with SIGPIPE before the clean-up.
func TestMCPVanishedClientStillDestroysTheFreshSandbox(t *testing.T) {
	dev := startDevServer(t, devOptions{})
	led := ledger.New(filepath.Join(t.TempDir(), "ledger.jsonl"))
	cmd := exec.Command(dev.Nimbus, "mcp")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LANG=C", "NO_COLOR=1", "TMPDIR=" + t.TempDir(),
		"NIMBUS_ENDPOINT=" + dev.URL, "JWT_SECRET=" + devSecret, "NIMBUS_TENANT=acme", "NIMBUS_LEDGER=" + led.Path()}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	replies := json.NewDecoder(stdout)
	send := func(msg string) {
		t.Helper()
		if _, err := io.WriteString(stdin, msg+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	var init struct {
		Result struct {
			Capabilities struct {
				Extensions map[string]struct {
					Sandbox string `json:"sandbox"`
				} `json:"extensions"`
			} `json:"capabilities"`
		} `json:"result"`
	}
	send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	if err := replies.Decode(&init); err != nil {
		t.Fatal(err)
	}
	id := init.Result.Capabilities.Extensions["nimbus.sh/sandbox"].Sandbox
	send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"nimbus_writeFile","arguments":{"path":"f","content":"x"}}}`)
	var reply map[string]any
	if err := replies.Decode(&reply); err != nil || reply["result"] == nil {
		t.Fatalf("writeFile: %v %v", reply, err)
	}
	if !slices.Contains(sandboxDirs(t, dev.Data), "acme:_:"+id) {
		t.Fatalf("sandbox %q not created", id)
	}
	send(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"nimbus_exec","arguments":{"command":"sleep 600"}}}`)
	// The client vanishes: every pipe closes at once.
	_ = stdout.Close()
	_ = stderr.Close()
	_ = stdin.Close()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("nimbus mcp did not exit after its client went away")
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() {
		t.Errorf("nimbus mcp died of %v", ee.Sys().(syscall.WaitStatus).Signal())
	}
	if slices.Contains(sandboxDirs(t, dev.Data), "acme:_:"+id) {
		t.Errorf("sandbox %s survived", id)
	}
	if p, _ := led.Pending(); len(p) != 0 {
		t.Errorf("ledger still holds %+v", p)
	}
}

// TestMCPStartTimeoutDestroysTheUnconfirmedSandbox: when the ready call
// that starts a fresh sandbox times out (E_HTTP_TIMEOUT) after reaching the
// Worker, the sandbox may exist or not: nimbus mcp used to exit leaving
// the id in the cleanup ledger, unsaid, and the sandbox (created here) to
// run. It is destroyed best-effort now, and the id leaves the ledger only
// when that destroy succeeds; when it fails, the warning names it and the
// ledger keeps it.
func TestMCPStartTimeoutDestroysTheUnconfirmedSandbox(t *testing.T) {
	for _, destroyFails := range []bool{false, true} {
		t.Run(fmt.Sprintf("destroyFails=%v", destroyFails), func(t *testing.T) {
			dev := startDevServer(t, devOptions{InProcess: true})
			target, err := url.Parse(dev.URL)
			if err != nil {
				t.Fatal(err)
			}
			rp := httputil.NewSingleHostReverseProxy(target)
			// The Worker acts on ready (the sandbox is created), but its
			// answer never comes back; destroy fails when asked to.
			proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(body))
				var req struct {
					Op string `json:"op"`
				}
				_ = json.Unmarshal(body, &req)
				switch {
				case req.Op == "ready":
					rp.ServeHTTP(httptest.NewRecorder(), r)
					<-r.Context().Done()
					return
				case req.Op == "destroy" && destroyFails:
					http.Error(w, `{"error":"boom","code":"E_INTERNAL"}`, http.StatusInternalServerError)
					return
				}
				rp.ServeHTTP(w, r)
			}))
			t.Cleanup(proxy.Close)
			led := ledger.New(filepath.Join(t.TempDir(), "ledger.jsonl"))
			cmd := exec.Command(dev.Nimbus, "mcp", "--keep")
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LANG=C", "NO_COLOR=1", "TMPDIR=" + t.TempDir(),
				"NIMBUS_ENDPOINT=" + proxy.URL, "JWT_SECRET=" + devSecret, "NIMBUS_TENANT=acme", "NIMBUS_LEDGER=" + led.Path(),
				"NIMBUS_HTTP_TIMEOUT=250ms"}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err == nil {
				t.Fatal("nimbus mcp succeeded")
			}
			if !strings.Contains(stderr.String(), "E_HTTP_TIMEOUT") {
				t.Fatalf("stderr:\n%s", stderr.String())
			}
			data, err := os.ReadFile(led.Path())
			if err != nil {
				t.Fatal(err)
			}
			var add struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(bytes.Fields(data)[0], &add); err != nil || !strings.HasPrefix(add.ID, "mcp-") {
				t.Fatalf("ledger %s: %v", data, err)
			}
			pending, err := led.Pending()
			if err != nil {
				t.Fatal(err)
			}
			exists := slices.Contains(sandboxDirs(t, dev.Data), "acme:_:"+add.ID)
			if !destroyFails {
				if exists || len(pending) != 0 || !strings.Contains(stderr.String(), "destroyed sandbox "+add.ID) {
					t.Errorf("sandbox %s exists=%v, ledger %+v; stderr:\n%s", add.ID, exists, pending, stderr.String())
				}
				return
			}
			if len(pending) != 1 || pending[0].ID != add.ID || !strings.Contains(stderr.String(), "could not destroy sandbox "+add.ID+", which the failed start may have created") {
				t.Errorf("ledger %+v; stderr:\n%s", pending, stderr.String())
			}
		})
	}
}

// A tool call larger than the SDK's default 16 MiB stdio frame (a writeFile
// within the 20 MiB write limit) is served, as over HTTP: the frame limit
// is mcpserver.MaxMessage on both transports. Beyond it the stdio
// session would end, and with it the fresh sandbox and the agent's work.
func TestMCPLargeCallOverStdio(t *testing.T) {
	dev := startDevServer(t, devOptions{})
	env := []string{"NIMBUS_ENDPOINT=" + dev.URL, "JWT_SECRET=" + devSecret, "NIMBUS_TENANT=acme"}
	cs, stderr, _ := mcpSession(t, dev.Nimbus, env)
	defer cs.Close()
	const n = 18 << 20
	out, res := mcpCall(t, cs, "nimbus_writeFile", map[string]any{"path": "big.txt", "content": strings.Repeat("a", n)})
	if res.IsError || out["bytes"] != float64(n) {
		t.Fatalf("writeFile of 18 MiB: %v %s\n%s", out, resultText(res), stderr)
	}
	if out, res := mcpCall(t, cs, "nimbus_exec", map[string]any{"command": "wc -c < big.txt"}); res.IsError || strings.TrimSpace(out["stdout"].(string)) != strconv.Itoa(n) {
		t.Fatalf("the session did not survive: %v %s\n%s", out, resultText(res), stderr)
	}
}

// runMCPLocal runs `nimbus mcp --local` with stdin as its whole input,
// and returns its replies by id, its stderr and its exit code.
func runMCPLocal(t *testing.T, stdin io.Reader) (map[string]map[string]any, string, int) {
	t.Helper()
	nimbus, err := exec.LookPath("nimbus")
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nimbus, "mcp", "--local")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "NIMBUS_DEV_DATA=" + filepath.Join(home, "data"),
		"NIMBUS_LEDGER=" + filepath.Join(home, "ledger.jsonl"), "NO_COLOR=1", "LANG=C"}
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]any{}
	dec := json.NewDecoder(&stdout)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("stdout: %v\nstderr:\n%s", err, stderr.String())
		}
		id, _ := json.Marshal(m["id"])
		got[string(id)] = m
	}
	return got, stderr.String(), code
}

const mcpInit = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}
{"jsonrpc":"2.0","method":"notifications/initialized"}
`

// printf '…initialize…\n…tools/call…\n' | nimbus mcp --local: a script's
// requests, followed at once by the end of the input, all get their
// replies before nimbus exits. The SDK closed the session at the end of
// the input with the requests still running: no reply at all, exit 0.
func TestMCPStdioEndOfInputWaitsForReplies(t *testing.T) {
	got, stderr, code := runMCPLocal(t, strings.NewReader(mcpInit+
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"nimbus_exec","arguments":{"command":"echo piped-$((6*7))"}}}`+"\n"))
	if code != 0 || got["1"]["result"] == nil {
		t.Fatalf("exit %d, initialize %v\nstderr:\n%s", code, got["1"], stderr)
	}
	if r, _ := json.Marshal(got["2"]["result"]); !strings.Contains(string(r), `"stdout":"piped-42\n"`) {
		t.Fatalf("tools/call: %s\nstderr:\n%s", r, stderr)
	}
	if !strings.Contains(stderr, "destroyed sandbox mcp-") {
		t.Errorf("the fresh sandbox was not destroyed:\n%s", stderr)
	}
}

// A message over 32 MiB is answered with an error (E_MCP_FRAME_TOO_LARGE)
// when it names its request id, and the session goes on; without an id
// nimbus says so on stderr and exits 65. The session used to end either
// way (exit 69, "inbound JSON-RPC frame exceeded…"), destroying the fresh
// sandbox with the agent's work.
func TestMCPStdioOversizedMessage(t *testing.T) {
	pad := bytes.Repeat([]byte("a"), 32<<20)
	got, stderr, code := runMCPLocal(t, io.MultiReader(strings.NewReader(mcpInit+
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"nimbus_writeFile","arguments":{"path":"big","content":"`),
		bytes.NewReader(pad), strings.NewReader(`"}}}`+"\n"+
			`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"nimbus_exec","arguments":{"command":"echo still-here"}}}`+"\n")))
	e, _ := got["2"]["error"].(map[string]any)
	if code != 0 || e == nil || !strings.Contains(fmt.Sprint(e["message"]), "E_MCP_FRAME_TOO_LARGE") {
		t.Fatalf("exit %d, oversized call answered %v\nstderr:\n%s", code, got["2"], stderr)
	}
	if r, _ := json.Marshal(got["3"]["result"]); !strings.Contains(string(r), `"stdout":"still-here\n"`) {
		t.Fatalf("the session did not go on: %s\nstderr:\n%s", r, stderr)
	}

	_, stderr, code = runMCPLocal(t, io.MultiReader(strings.NewReader(mcpInit+`{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"`),
		bytes.NewReader(pad), strings.NewReader(`"}}`+"\n")))
	if code != 65 || !strings.Contains(stderr, `"code":"E_MCP_FRAME_TOO_LARGE"`) || !strings.Contains(stderr, "more than 32 MiB") {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
}

// TestMCPWriteLimitFromSettings: nimbus mcp takes the write limit from
// NIMBUS_WRITE_LIMIT (write_limit:) as the sandbox commands do, against a
// Worker and with --local; it used the default 20 MiB whatever they said,
// while docs/mcp.md and --print-config's carried environment said it
// applied.
func TestMCPWriteLimitFromSettings(t *testing.T) {
	dev := startDevServer(t, devOptions{})
	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"worker", []string{"NIMBUS_ENDPOINT=" + dev.URL, "JWT_SECRET=" + devSecret, "NIMBUS_TENANT=acme"}, nil},
		{"local", []string{"NIMBUS_DEV_DATA=" + t.TempDir()}, []string{"--local"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, stderr, _ := mcpSession(t, dev.Nimbus, append(tc.env, "NIMBUS_WRITE_LIMIT=4KiB"), tc.args...)
			defer cs.Close()
			if out, res := mcpCall(t, cs, "nimbus_writeFile", map[string]any{"path": "fits.txt", "content": strings.Repeat("a", 4096)}); res.IsError || out["bytes"] != 4096.0 {
				t.Fatalf("writeFile of 4 KiB: %v %s\n%s", out, resultText(res), stderr)
			}
			_, res := mcpCall(t, cs, "nimbus_writeFile", map[string]any{"path": "over.txt", "content": strings.Repeat("a", 4097)})
			if !res.IsError || !strings.Contains(resultText(res), "above the single-request write limit of 4 KiB") {
				t.Fatalf("writeFile of 4 KiB + 1 with NIMBUS_WRITE_LIMIT=4KiB: error %v, %s\n%s", res.IsError, resultText(res), stderr)
			}
		})
	}
	// A malformed value is refused before serving, naming where it came
	// from, as the sandbox commands refuse it.
	cmd := exec.Command(dev.Nimbus, "mcp", "--local")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NIMBUS_DEV_DATA=" + t.TempDir(), "NIMBUS_WRITE_LIMIT=huge", "NO_COLOR=1"}
	cmd.Stdin = strings.NewReader(mcpInit)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 78 || !strings.Contains(string(out), "E_CONFIG_INVALID") || !strings.Contains(string(out), "NIMBUS_WRITE_LIMIT") {
		t.Fatalf("NIMBUS_WRITE_LIMIT=huge: %v\n%s", err, out)
	}
}
