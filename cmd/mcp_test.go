//go:build unix

package cmd_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
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
	endpoint, nimbus, data := startDev(t)
	led := ledger.New(filepath.Join(t.TempDir(), "ledger.jsonl"))
	env := []string{"NIMBUS_ENDPOINT=" + endpoint, "JWT_SECRET=" + devSecret, "NIMBUS_TENANT=acme", "NIMBUS_LEDGER=" + led.Path()}

	cs, stderr, _ := mcpSession(t, nimbus, env)
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
	endpoint, nimbus, data := startDev(t)
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
	line, stderr := startServer(t, cmd)
	if !strings.HasPrefix(line, "http://127.0.0.1:") || !strings.HasSuffix(strings.TrimSpace(line), "/mcp") {
		t.Fatalf("URL line %q\n%s", line, stderr)
	}
	url := strings.TrimSpace(line)
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
