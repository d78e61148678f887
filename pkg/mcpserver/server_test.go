//go:build unix

package mcpserver_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/nimbus-sh/nimbus/internal/freeport"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/mcpserver"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

const secret = "mcp-test-secret-0123456789abcdef0123"

// backend is the real local sandbox backend (what `nimbus dev` serves)
// behind a real HTTP listener. (Without namespaces its commands see host
// paths, so tests print cwd relative to /home/user.)
func backend(t *testing.T) string { return backendB(t) }

func backendB(t testing.TB) string {
	t.Helper()
	srv, err := localsandbox.New(localsandbox.Options{
		DataDir: t.TempDir(), Secret: secret,
		HostEnv: []string{"PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8"},
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		_ = srv.Close()
	})
	return hs.URL
}

// handle returns a sandbox handle whose token is minted per request with
// scopes and pinned to the sandbox, as `nimbus mcp` does.
func handle(t *testing.T, url, id string, scopes ...string) *sc.Sandbox {
	return handleB(t, url, id, scopes...)
}

func handleB(t testing.TB, url, id string, scopes ...string) *sc.Sandbox {
	t.Helper()
	tn := "acme"
	ts := sc.TokenFunc(func(_ context.Context, sid string) (string, error) {
		return token.Issuer{Secret: secret}.Mint(token.Input{Tenant: &tn, SessionID: &sid, Scopes: scopes})
	})
	c, err := sc.New(sc.Options{Endpoint: url, Tokens: ts})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.Sandbox(id, sc.SandboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sb
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// connect serves the server over in-memory transports and returns the SDK
// client's session.
func connect(t *testing.T, o mcpserver.Options) (*mcp.ClientSession, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	s, err := mcpserver.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	st, ct := mcp.NewInMemoryTransports()
	ss, err := s.MCP().Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs, logs
}

func call(t *testing.T, cs *mcp.ClientSession, name string, args any) *mcp.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(testCtx(t), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

// ok calls a tool that must succeed and decodes its structured result.
func ok[T any](t *testing.T, cs *mcp.ClientSession, name string, args any) T {
	t.Helper()
	res := call(t, cs, name, args)
	if res.IsError {
		t.Fatalf("%s failed: %s", name, text(res))
	}
	var out T
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: structured result %s: %v", name, b, err)
	}
	return out
}

// failed calls a tool that must fail and returns its error text.
func failed(t *testing.T, cs *mcp.ClientSession, name string, args any) string {
	t.Helper()
	res := call(t, cs, name, args)
	if !res.IsError {
		t.Fatalf("%s succeeded, want an error: %s", name, text(res))
	}
	return text(res)
}

func text(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func toolNames(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	var names []string
	for tool, err := range cs.Tools(testCtx(t), nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

var upstreamTools = []string{
	"exec", "runCode", "readFile", "writeFile", "listFiles", "deleteFile", "exists",
	"startProcess", "killProcess", "signalProcess", "writeProcessInput", "endProcessInput",
	"resizeProcess", "logs", "exposePort", "unexposePort", "listPorts", "exposeApp",
	"listApps", "installRuntime", "listRuntimes",
}

var readTools = []string{"readFile", "listFiles", "exists", "logs", "listPorts", "listApps", "listRuntimes", "listProcesses"}

func prefixed(ns string, names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = ns + "_" + n
	}
	slices.Sort(out)
	return out
}

func TestToolList(t *testing.T) {
	url := backend(t)
	sb := handle(t, url, "list-1", token.ScopeSandboxUse)

	cs, _ := connect(t, mcpserver.Options{Sandbox: sb})
	want := prefixed("nimbus", append(slices.Clone(upstreamTools), "listProcesses")...)
	if got := toolNames(t, cs); !slices.Equal(got, want) {
		t.Fatalf("tools:\n got %v\nwant %v", got, want)
	}
	for tool, err := range cs.Tools(testCtx(t), nil) {
		if err != nil {
			t.Fatal(err)
		}
		in, _ := json.Marshal(tool.InputSchema)
		out, _ := json.Marshal(tool.OutputSchema)
		if !strings.Contains(string(in), `"type":"object"`) || !strings.Contains(string(out), `"type":"object"`) {
			t.Errorf("%s: schemas in=%s out=%s", tool.Name, in, out)
		}
		if tool.Description == "" || tool.Annotations == nil || tool.Annotations.Title == "" {
			t.Errorf("%s: no description or annotations", tool.Name)
		}
		read := slices.Contains(readTools, strings.TrimPrefix(tool.Name, "nimbus_"))
		if tool.Annotations.ReadOnlyHint != read {
			t.Errorf("%s: readOnlyHint %v", tool.Name, tool.Annotations.ReadOnlyHint)
		}
	}

	// The capabilities carry the §6 descriptor; instructions name the sandbox.
	init := cs.InitializeResult()
	ext, _ := json.Marshal(init.Capabilities.Extensions[mcpserver.ExtensionKey])
	var d mcpserver.Descriptor
	if err := json.Unmarshal(ext, &d); err != nil {
		t.Fatalf("extension %s: %v", ext, err)
	}
	if d.Sandbox != "list-1" || d.Name != "nimbus" || d.Kind != "nimbus" || d.ReadOnly || d.Destroy || len(d.Tools) != len(want) {
		t.Errorf("descriptor %+v", d)
	}
	if !slices.Contains(d.Capabilities, "python") || !slices.Contains(d.Capabilities, "clang_wasi") || !slices.Contains(d.Capabilities, "terminal_resize") {
		t.Errorf("capabilities %v", d.Capabilities)
	}
	if !strings.Contains(init.Instructions, `"list-1"`) {
		t.Errorf("instructions: %s", init.Instructions)
	}

	// The descriptor is also a resource.
	rr, err := cs.ReadResource(testCtx(t), &mcp.ReadResourceParams{URI: "nimbus://list-1"})
	if err != nil || !strings.Contains(rr.Contents[0].Text, `"sandbox": "list-1"`) {
		t.Fatalf("descriptor resource: %v %+v", err, rr)
	}
}

func TestNamespaceReadOnlyDestroyAndCapabilities(t *testing.T) {
	url := backend(t)
	sb := handle(t, url, "ns-1", token.ScopeSandboxUse)

	cs, _ := connect(t, mcpserver.Options{Sandbox: sb, Namespace: "box", ReadOnly: true, RuntimeAllow: []string{"node", "python"}})
	if got, want := toolNames(t, cs), prefixed("box", readTools...); !slices.Equal(got, want) {
		t.Fatalf("read-only tools:\n got %v\nwant %v", got, want)
	}
	ext, _ := json.Marshal(cs.InitializeResult().Capabilities.Extensions[mcpserver.ExtensionKey])
	var d mcpserver.Descriptor
	_ = json.Unmarshal(ext, &d)
	if !d.ReadOnly || !slices.Contains(d.Capabilities, "python") || slices.Contains(d.Capabilities, "ruby") || slices.Contains(d.Capabilities, "wasi") {
		t.Errorf("descriptor %+v", d)
	}
	// Writes do not exist: the call is refused before the sandbox is touched.
	res, err := cs.CallTool(testCtx(t), &mcp.CallToolParams{Name: "box_writeFile", Arguments: map[string]any{"path": "/home/user/x", "content": "x"}})
	if err == nil && !res.IsError {
		t.Fatal("read-only server wrote a file")
	}
	if err == nil && !strings.Contains(text(res), "unknown tool") {
		t.Fatalf("refusal: %s", text(res))
	}
	if ex := ok[mcpserver.ExistsOutput](t, cs, "box_exists", map[string]any{"path": "x"}); ex.Exists {
		t.Fatal("the refused write happened")
	}

	destroyer := handle(t, url, "ns-1", token.ScopeSandboxUse, token.ScopeSessionDestroy)
	cs2, _ := connect(t, mcpserver.Options{Sandbox: sb, Destroyer: destroyer})
	if !slices.Contains(toolNames(t, cs2), "nimbus_destroy") {
		t.Fatal("no destroy tool with a Destroyer")
	}
	if _, err := mcpserver.New(mcpserver.Options{Sandbox: sb, Destroyer: destroyer, ReadOnly: true}); err == nil {
		t.Fatal("read-only with destroy accepted")
	}
	if _, err := mcpserver.New(mcpserver.Options{Sandbox: sb, Namespace: "a.b"}); err == nil {
		t.Fatal("namespace with a dot accepted")
	}
}

func TestEveryTool(t *testing.T) {
	url := backend(t)
	id := "every-1"
	sb := handle(t, url, id, token.ScopeSandboxUse)
	destroyer := handle(t, url, id, token.ScopeSandboxUse, token.ScopeSessionDestroy)
	cs, logs := connect(t, mcpserver.Options{Sandbox: sb, Destroyer: destroyer})

	// Files.
	w := ok[mcpserver.WriteFileOutput](t, cs, "nimbus_writeFile", map[string]any{"path": "src/deep/hello.txt", "content": "hello, world\n"})
	if w.Path != "/home/user/src/deep/hello.txt" || w.Bytes != 13 {
		t.Fatalf("writeFile %+v", w)
	}
	r := ok[mcpserver.ReadFileOutput](t, cs, "nimbus_readFile", map[string]any{"path": "/home/user/src/deep/hello.txt"})
	if r.Content != "hello, world\n" || r.Size != 13 || r.Binary || r.Truncated || !strings.HasPrefix(r.MimeType, "text/plain") {
		t.Fatalf("readFile %+v", r)
	}
	part := ok[mcpserver.ReadFileOutput](t, cs, "nimbus_readFile", map[string]any{"path": "src/deep/hello.txt", "offset": 7, "length": 3})
	if part.Content != "wor" || !part.Truncated || part.NextOffset == nil || *part.NextOffset != 10 || !strings.Contains(part.Note, "offset 10") {
		t.Fatalf("partial readFile %+v", part)
	}
	if ex := ok[mcpserver.ExistsOutput](t, cs, "nimbus_exists", map[string]any{"path": "src/deep"}); !ex.Exists {
		t.Fatal("exists: false")
	}
	l := ok[mcpserver.ListFilesOutput](t, cs, "nimbus_listFiles", map[string]any{"path": "src/deep"})
	if l.Count != 1 || l.Entries[0].Name != "hello.txt" || l.Entries[0].Type != "file" {
		t.Fatalf("listFiles %+v", l)
	}
	if root := ok[mcpserver.ListFilesOutput](t, cs, "nimbus_listFiles", map[string]any{}); root.Path != "/home/user" {
		t.Fatalf("listFiles default %+v", root)
	}
	if msg := failed(t, cs, "nimbus_readFile", map[string]any{"path": "nope.txt"}); !strings.Contains(msg, "E_NOT_FOUND") || !strings.Contains(msg, "hint:") {
		t.Fatalf("missing file: %s", msg)
	}
	if msg := failed(t, cs, "nimbus_readFile", map[string]any{"path": "src"}); !strings.Contains(msg, "E_IS_DIRECTORY") {
		t.Fatalf("directory: %s", msg)
	}
	if msg := failed(t, cs, "nimbus_deleteFile", map[string]any{"path": "src"}); !strings.Contains(msg, "ENOTEMPTY") && !strings.Contains(msg, "E_NIMBUS_REMOTE_RPC") {
		t.Fatalf("non-recursive delete: %s", msg)
	}
	ok[mcpserver.DeleteFileOutput](t, cs, "nimbus_deleteFile", map[string]any{"path": "src", "recursive": true})
	if ex := ok[mcpserver.ExistsOutput](t, cs, "nimbus_exists", map[string]any{"path": "src"}); ex.Exists {
		t.Fatal("deleted directory still exists")
	}

	// Commands.
	x := ok[mcpserver.ExecOutput](t, cs, "nimbus_exec", map[string]any{"command": "mkdir -p d && cd d && echo ${PWD#*/home/user} && echo $GREETING && echo oops >&2; exit 3", "env": map[string]string{"GREETING": "hi"}})
	if x.ExitCode != 3 || x.Success || x.Stdout != "/d\nhi\n" || x.Stderr != "oops\n" || x.Truncated {
		t.Fatalf("exec %+v", x)
	}
	if x := ok[mcpserver.ExecOutput](t, cs, "nimbus_exec", map[string]any{"command": "echo ${PWD#*/home/user}; cat", "cwd": "d", "stdin": "from stdin"}); x.Stdout != "/d\nfrom stdin" {
		t.Fatalf("exec cwd/stdin %+v", x)
	}
	if x := ok[mcpserver.ExecOutput](t, cs, "nimbus_exec", map[string]any{"command": "sleep 5", "timeoutMs": 200}); x.ExitCode != 124 {
		t.Fatalf("exec timeout %+v", x)
	}
	ok[mcpserver.ExecOutput](t, cs, "nimbus_exec", map[string]any{"command": "cd d && export K=v", "shellId": "sh1"})
	if x := ok[mcpserver.ExecOutput](t, cs, "nimbus_exec", map[string]any{"command": "echo ${PWD#*/home/user} $K", "shellId": "sh1"}); x.Stdout != "/d v\n" {
		t.Fatalf("named shell %+v", x)
	}
	rc := ok[mcpserver.ExecOutput](t, cs, "nimbus_runCode", map[string]any{"code": "echo from-shell; exit 2", "language": "shell"})
	if rc.ExitCode != 2 || rc.Stdout != "from-shell\n" {
		t.Fatalf("runCode %+v", rc)
	}

	// Processes.
	st := ok[sc.StartResult](t, cs, "nimbus_startProcess", map[string]any{"command": "while read l; do echo got:$l; done; echo eof"})
	if st.PID <= 0 {
		t.Fatalf("startProcess %+v", st)
	}
	pid := st.PID
	if a := ok[sc.ProcessAck](t, cs, "nimbus_writeProcessInput", map[string]any{"pid": pid, "data": "one\n"}); !a.OK {
		t.Fatalf("writeProcessInput %+v", a)
	}
	ok[sc.ProcessAck](t, cs, "nimbus_resizeProcess", map[string]any{"pid": pid, "columns": 100, "rows": 40})
	ok[sc.ProcessAck](t, cs, "nimbus_endProcessInput", map[string]any{"pid": pid})
	logsOut := waitLogs(t, cs, pid, func(l mcpserver.LogsOutput) bool { return l.Exit != nil })
	if !strings.Contains(logsOut.Text, "got:one") || !strings.Contains(logsOut.Text, "eof") || logsOut.Exit.Code != 0 {
		t.Fatalf("logs %+v", logsOut)
	}
	ps := ok[mcpserver.ProcessesOutput](t, cs, "nimbus_listProcesses", map[string]any{})
	if !slices.ContainsFunc(ps.Processes, func(p sc.Process) bool { return p.PID == pid }) {
		t.Fatalf("listProcesses %+v", ps)
	}
	sleeper := ok[sc.StartResult](t, cs, "nimbus_startProcess", map[string]any{"command": "sleep 60"})
	ok[sc.ProcessAck](t, cs, "nimbus_signalProcess", map[string]any{"pid": sleeper.PID, "signal": "SIGTERM"})
	waitLogs(t, cs, sleeper.PID, func(l mcpserver.LogsOutput) bool { return l.Exit != nil })
	sleeper2 := ok[sc.StartResult](t, cs, "nimbus_startProcess", map[string]any{"command": "sleep 60"})
	ok[sc.ProcessAck](t, cs, "nimbus_killProcess", map[string]any{"pid": sleeper2.PID})
	if l := waitLogs(t, cs, sleeper2.PID, func(l mcpserver.LogsOutput) bool { return l.Exit != nil }); l.Exit.Code == 0 {
		t.Fatalf("killed process exited 0: %+v", l)
	}

	// Ports and apps: a real listener in the sandbox.
	port := freePort(t)
	srv := ok[sc.StartResult](t, cs, "nimbus_startProcess", map[string]any{"command": "exec python3 -m http.server " + port + " --bind 127.0.0.1"})
	deadline := time.Now().Add(20 * time.Second)
	for {
		lp := ok[mcpserver.PortsOutput](t, cs, "nimbus_listPorts", map[string]any{})
		if slices.ContainsFunc(lp.Ports, func(p sc.Port) bool { return strings.TrimSpace(port) == itoa(p.Port) }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("port %s never listed: %+v", port, lp)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ep := ok[sc.ExposedPort](t, cs, "nimbus_exposePort", map[string]any{"port": atoi(port), "name": "web"})
	if !ep.Listening || ep.URL == "" {
		t.Fatalf("exposePort %+v", ep)
	}
	app := ok[sc.App](t, cs, "nimbus_exposeApp", map[string]any{"target": "web"})
	if app.Port == nil || itoa(*app.Port) != port {
		t.Fatalf("exposeApp %+v", app)
	}
	if app := ok[sc.App](t, cs, "nimbus_exposeApp", map[string]any{"target": atoi(port)}); app.Port == nil {
		t.Fatalf("exposeApp by port %+v", app)
	}
	apps := ok[mcpserver.AppsOutput](t, cs, "nimbus_listApps", map[string]any{})
	if len(apps.Apps) == 0 {
		t.Fatal("listApps: none")
	}
	if u := ok[sc.UnexposeResult](t, cs, "nimbus_unexposePort", map[string]any{"port": atoi(port)}); u.Port != atoi(port) {
		t.Fatalf("unexposePort %+v", u)
	}
	ok[sc.ProcessAck](t, cs, "nimbus_killProcess", map[string]any{"pid": srv.PID})

	// Runtimes.
	rts := ok[sc.Runtimes](t, cs, "nimbus_listRuntimes", map[string]any{})
	if !slices.ContainsFunc(rts.Installed, func(r sc.InstalledRuntime) bool { return r.Name == "shell" }) {
		t.Fatalf("listRuntimes %+v", rts)
	}
	in := ok[mcpserver.InstallOutput](t, cs, "nimbus_installRuntime", map[string]any{"spec": "shell"})
	if in.Spec != "shell" || in.ExitCode != 0 {
		t.Fatalf("installRuntime %+v", in)
	}

	// Destroy wipes the sandbox.
	d := ok[sc.DestroyResult](t, cs, "nimbus_destroy", map[string]any{"reason": "test over"})
	if !d.OK || d.Reason == nil || *d.Reason != "test over" {
		t.Fatalf("destroy %+v", d)
	}
	if ex := ok[mcpserver.ExistsOutput](t, cs, "nimbus_exists", map[string]any{"path": "d"}); ex.Exists {
		t.Fatal("files survived destroy")
	}

	// Every call was logged without contents: no file text, no command.
	log := logs.String()
	for _, tool := range append(slices.Clone(upstreamTools), "listProcesses", "destroy") {
		if !strings.Contains(log, "tool=nimbus_"+tool+" ") {
			t.Errorf("no log line for %s", tool)
		}
	}
	for _, secret := range []string{"hello, world", "GREETING", "from stdin", "got:one", "test over", "eyJ"} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds %q:\n%s", secret, log)
		}
	}
	if !strings.Contains(log, "sandbox=every-1") || !strings.Contains(log, "exitCode=3") || !strings.Contains(log, "duration=") || !strings.Contains(log, "error=E_NOT_FOUND") {
		t.Errorf("log lines lack fields:\n%s", log)
	}
}

func waitLogs(t *testing.T, cs *mcp.ClientSession, pid int64, done func(mcpserver.LogsOutput) bool) mcpserver.LogsOutput {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l := ok[mcpserver.LogsOutput](t, cs, "nimbus_logs", map[string]any{"pid": pid})
		if done(l) {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d: %+v", pid, l)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort(t *testing.T) string {
	p, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(p)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func atoi(s string) int {
	var n int
	_ = json.Unmarshal([]byte(s), &n)
	return n
}

func TestSchemaValidation(t *testing.T) {
	url := backend(t)
	sb := handle(t, url, "schema-1", token.ScopeSandboxUse)
	cs, logs := connect(t, mcpserver.Options{Sandbox: sb})
	for _, c := range []struct {
		tool string
		args map[string]any
	}{
		{"nimbus_exec", map[string]any{}},                                     // missing command
		{"nimbus_exec", map[string]any{"command": 42}},                        // wrong type
		{"nimbus_exec", map[string]any{"command": "touch x", "bogus": true}},  // unknown property
		{"nimbus_exec", map[string]any{"command": "touch x", "timeoutMs": 0}}, // below minimum
		{"nimbus_exec", map[string]any{"command": ""}},                        // empty
		{"nimbus_runCode", map[string]any{"code": "1", "language": "cobol"}},  // enum
		{"nimbus_readFile", map[string]any{"path": "x", "length": 1 << 30}},   // above maximum
		{"nimbus_exposePort", map[string]any{"port": 70000}},                  // port range
		{"nimbus_signalProcess", map[string]any{"pid": 1, "signal": "TERM"}},  // pattern
		{"nimbus_exposeApp", map[string]any{"target": true}},                  // union
		{"nimbus_logs", map[string]any{"pid": 1, "lines": -1}},                // negative
	} {
		msg := failed(t, cs, c.tool, c.args)
		if !strings.Contains(msg, "validating") {
			t.Errorf("%s %v: %s", c.tool, c.args, msg)
		}
	}
	// writeFile's either-or is checked by the handler.
	for _, args := range []map[string]any{
		{"path": "x"}, {"path": "x", "content": "a", "data": "YQ=="}, {"path": "x", "data": "***"},
	} {
		if msg := failed(t, cs, "nimbus_writeFile", args); !strings.Contains(msg, "E_INVALID_INPUT") {
			t.Errorf("writeFile %v: %s", args, msg)
		}
	}
	// Nothing reached the sandbox.
	if ex := ok[mcpserver.ExistsOutput](t, cs, "nimbus_exists", map[string]any{"path": "x"}); ex.Exists {
		t.Fatal("a refused call ran")
	}
	if !strings.Contains(logs.String(), "error=E_INPUT_SCHEMA") {
		t.Errorf("schema failures not logged:\n%s", logs)
	}
}

// A path of white space only passes the schema (a non-empty string) but
// is refused by every file tool, as the CLI refuses one: it reached the
// sandbox as a file named " " in the root.
func TestBlankPathsAreRefused(t *testing.T) {
	url := backend(t)
	sb := handle(t, url, "blank-1", token.ScopeSandboxUse)
	cs, _ := connect(t, mcpserver.Options{Sandbox: sb})
	for _, p := range []string{" ", "\t", "  \n", "\u00a0"} {
		for _, c := range []struct {
			tool string
			args map[string]any
		}{
			{"nimbus_writeFile", map[string]any{"path": p, "content": "x"}},
			{"nimbus_readFile", map[string]any{"path": p}},
			{"nimbus_listFiles", map[string]any{"path": p}},
			{"nimbus_deleteFile", map[string]any{"path": p, "recursive": true}},
			{"nimbus_exists", map[string]any{"path": p}},
		} {
			if msg := failed(t, cs, c.tool, c.args); !strings.Contains(msg, "E_INVALID_INPUT") || !strings.Contains(msg, "is blank") {
				t.Errorf("%s %q: %s", c.tool, p, msg)
			}
		}
	}
	// Nothing named with white space was made in the root, and the
	// root's default listing still works.
	for _, e := range ok[mcpserver.ListFilesOutput](t, cs, "nimbus_listFiles", map[string]any{}).Entries {
		if strings.TrimSpace(e.Name) == "" {
			t.Errorf("a blank path reached the sandbox: entry %q", e.Name)
		}
	}
}

// A cwd of white space only is refused by exec, runCode and startProcess
// as a blank path is by the file tools: it named a directory " " under the
// root (which fails there, or runs in one a model made by mistake). An
// absent cwd is the default directory.
func TestBlankCwdIsRefused(t *testing.T) {
	url := backend(t)
	sb := handle(t, url, "blank-cwd-1", token.ScopeSandboxUse)
	cs, _ := connect(t, mcpserver.Options{Sandbox: sb})
	for _, cwd := range []string{" ", "\t", "  \n", "\u00a0"} {
		// The blank directory exists, so only the refusal keeps the
		// commands from running there.
		ok[mcpserver.ExecOutput](t, cs, "nimbus_exec", map[string]any{"command": "mkdir -p " + shellWord(cwd)})
		for _, c := range []struct {
			tool string
			args map[string]any
		}{
			{"nimbus_exec", map[string]any{"command": "touch ran-exec", "cwd": cwd}},
			{"nimbus_runCode", map[string]any{"code": "touch ran-code", "language": "shell", "cwd": cwd}},
			{"nimbus_startProcess", map[string]any{"command": "touch ran-start", "cwd": cwd}},
		} {
			if msg := failed(t, cs, c.tool, c.args); !strings.Contains(msg, "E_INVALID_INPUT") || !strings.Contains(msg, "cwd") || !strings.Contains(msg, "is blank") {
				t.Errorf("%s cwd %q: %s", c.tool, cwd, msg)
			}
		}
		out := ok[mcpserver.ExecOutput](t, cs, "nimbus_exec", map[string]any{"command": "ls -a " + shellWord(cwd)})
		if strings.Contains(out.Stdout, "ran-") {
			t.Errorf("cwd %q: a refused call ran: %s", cwd, out.Stdout)
		}
	}
	// Without cwd, and with a real one, the tools run.
	if out := ok[mcpserver.ExecOutput](t, cs, "nimbus_exec", map[string]any{"command": "pwd"}); out.ExitCode != 0 {
		t.Errorf("exec without cwd: %+v", out)
	}
	if out := ok[mcpserver.ExecOutput](t, cs, "nimbus_exec", map[string]any{"command": "pwd", "cwd": "."}); out.ExitCode != 0 {
		t.Errorf("exec with cwd .: %+v", out)
	}
}

// shellWord single-quotes s for sh.
func shellWord(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func TestTokenWithoutScope(t *testing.T) {
	url := backend(t)
	sb := handle(t, url, "scope-1", token.ScopeSessionAttach)
	cs, logs := connect(t, mcpserver.Options{Sandbox: sb})
	msg := failed(t, cs, "nimbus_exec", map[string]any{"command": "true"})
	if !strings.Contains(msg, "E_SCOPE_MISSING") || !strings.Contains(msg, "sandbox:use") || !strings.Contains(msg, "restart `nimbus mcp`") {
		t.Fatalf("scope error: %s", msg)
	}
	if !strings.Contains(logs.String(), "error=E_SCOPE_MISSING") {
		t.Fatalf("log:\n%s", logs)
	}
	// A use-only token cannot destroy, even through a server that offers it.
	use := handle(t, url, "scope-1", token.ScopeSandboxUse)
	cs2, _ := connect(t, mcpserver.Options{Sandbox: use, Destroyer: use})
	if msg := failed(t, cs2, "nimbus_destroy", map[string]any{}); !strings.Contains(msg, "E_SCOPE_MISSING") {
		t.Fatalf("destroy with a use-only token: %s", msg)
	}
}

func TestLongOutputIsCutAndSaved(t *testing.T) {
	url := backend(t)
	sb := handle(t, url, "long-1", token.ScopeSandboxUse)
	cs, _ := connect(t, mcpserver.Options{Sandbox: sb, MaxOutput: 1000, LocalTempDir: t.TempDir()})
	// 200000 bytes: "line NNNNN\n" lines, then a marker at the very end.
	x := ok[mcpserver.ExecOutput](t, cs, "nimbus_exec", map[string]any{"command": "i=0; while [ $i -lt 18181 ]; do printf 'line %05d\\n' $i; i=$((i+1)); done; printf 'THE-END-9\\n'; echo short >&2"})
	if !x.Truncated || x.StdoutBytes != 18181*11+10 || len(x.Stdout) > 1100 || !strings.HasPrefix(x.Stdout, "line 00000\n") || !strings.HasSuffix(x.Stdout, "THE-END-9\n") {
		t.Fatalf("cut stdout: truncated=%v bytes=%d len=%d %q…", x.Truncated, x.StdoutBytes, len(x.Stdout), x.Stdout[:40])
	}
	if !strings.Contains(x.Stdout, "cut …]") || x.Stderr != "short\n" || x.StderrFile != "" {
		t.Fatalf("marker or stderr: %+v", x)
	}
	if x.StdoutFile == "" || !strings.Contains(x.Note, x.StdoutFile) || !strings.Contains(x.Note, "readFile") {
		t.Fatalf("note: %+v", x)
	}
	// The saved file holds the whole output, readable in parts.
	r := ok[mcpserver.ReadFileOutput](t, cs, "nimbus_readFile", map[string]any{"path": x.StdoutFile, "offset": 18181 * 11})
	if r.Size != x.StdoutBytes || r.Content != "THE-END-9\n" {
		t.Fatalf("saved output: %+v", r)
	}
	head := ok[mcpserver.ReadFileOutput](t, cs, "nimbus_readFile", map[string]any{"path": x.StdoutFile})
	if int64(len(head.Content)) != int64(mcpserver.DefaultMaxRead) || !head.Truncated || head.NextOffset == nil {
		t.Fatalf("default read of a large file: len=%d %+v", len(head.Content), head.NextOffset)
	}

	// runCode output is cut the same way.
	rc := ok[mcpserver.ExecOutput](t, cs, "nimbus_runCode", map[string]any{"language": "shell", "code": "head -c 5000 /dev/zero | tr '\\0' a"})
	if !rc.Truncated || rc.StdoutBytes != 5000 || rc.StdoutFile == "" {
		t.Fatalf("runCode cut: %+v", rc)
	}
	if x := ok[mcpserver.ExistsOutput](t, cs, "nimbus_exists", map[string]any{"path": rc.StdoutFile}); !x.Exists {
		t.Fatal("runCode output not saved")
	}

	// Without saving, the note says how to get the rest.
	cs2, _ := connect(t, mcpserver.Options{Sandbox: sb, MaxOutput: 100, SpillDir: "-"})
	y := ok[mcpserver.ExecOutput](t, cs2, "nimbus_exec", map[string]any{"command": "seq 1 1000"})
	if !y.Truncated || y.StdoutFile != "" || !strings.Contains(y.Note, "redirected to a file") {
		t.Fatalf("no-spill note: %+v", y)
	}
}

func TestBinaryFileIsAResource(t *testing.T) {
	url := backend(t)
	sb := handle(t, url, "bin-1", token.ScopeSandboxUse)
	cs, _ := connect(t, mcpserver.Options{Sandbox: sb})
	png := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{0, 1, 2, 0xff}, 100)...)
	ok[mcpserver.WriteFileOutput](t, cs, "nimbus_writeFile", map[string]any{"path": "img/logo.png", "data": base64.StdEncoding.EncodeToString(png)})

	res := call(t, cs, "nimbus_readFile", map[string]any{"path": "img/logo.png"})
	if res.IsError {
		t.Fatal(text(res))
	}
	var out mcpserver.ReadFileOutput
	b, _ := json.Marshal(res.StructuredContent)
	_ = json.Unmarshal(b, &out)
	if !out.Binary || out.Content != "" || out.MimeType != "image/png" || out.Length != int64(len(png)) {
		t.Fatalf("structured: %+v", out)
	}
	var emb *mcp.EmbeddedResource
	for _, c := range res.Content {
		if e, ok := c.(*mcp.EmbeddedResource); ok {
			emb = e
		}
		if tc, ok := c.(*mcp.TextContent); ok && strings.Contains(tc.Text, "\x89PNG") {
			t.Fatal("binary data inline as text")
		}
	}
	if emb == nil || !bytes.Equal(emb.Resource.Blob, png) || emb.Resource.MIMEType != "image/png" || emb.Resource.URI != "nimbus://bin-1/home/user/img/logo.png" {
		t.Fatalf("embedded resource: %+v", emb)
	}
	// The resource URI reads back through resources/read.
	rr, err := cs.ReadResource(testCtx(t), &mcp.ReadResourceParams{URI: emb.Resource.URI})
	if err != nil || !bytes.Equal(rr.Contents[0].Blob, png) {
		t.Fatalf("resources/read: %v", err)
	}
	// Text files read as text resources; missing ones are not found.
	ok[mcpserver.WriteFileOutput](t, cs, "nimbus_writeFile", map[string]any{"path": "/home/user/a b.md", "content": "# hi"})
	rr, err = cs.ReadResource(testCtx(t), &mcp.ReadResourceParams{URI: "nimbus://bin-1/home/user/a%20b.md"})
	if err != nil || rr.Contents[0].Text != "# hi" {
		t.Fatalf("text resource: %v %+v", err, rr)
	}
	if _, err := cs.ReadResource(testCtx(t), &mcp.ReadResourceParams{URI: "nimbus://bin-1/home/user/none"}); err == nil {
		t.Fatal("missing resource read")
	}
}

func TestCancelledExecStopsTheCommand(t *testing.T) {
	url := backend(t)
	sb := handle(t, url, "cancel-1", token.ScopeSandboxUse)
	cs, logs := connect(t, mcpserver.Options{Sandbox: sb})
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "nimbus_exec", Arguments: map[string]any{"command": "echo $$ > pid; sleep 60; touch finished"}})
		done <- err
	}()
	// Wait until the command runs, then cancel the call.
	deadline := time.Now().Add(20 * time.Second)
	for !ok[mcpserver.ExistsOutput](t, cs, "nimbus_exists", map[string]any{"path": "pid"}).Exists {
		if time.Now().After(deadline) {
			t.Fatal("command never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("cancelled call did not return")
	}
	deadline = time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "error=E_CANCELLED") {
		if time.Now().After(deadline) {
			t.Fatalf("cancellation not logged:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ps := ok[mcpserver.ProcessesOutput](t, cs, "nimbus_listProcesses", map[string]any{})
	for _, p := range ps.Processes {
		if strings.Contains(p.Command, "sleep 60") && p.State == "running" {
			t.Fatalf("the cancelled command still runs: %+v", p)
		}
	}
}

// The HTTP transport refuses cross-origin browser requests and foreign
// Host headers (DNS rebinding), and serves the SDK's client.
func TestHTTPTransport(t *testing.T) {
	url := backend(t)
	sb := handle(t, url, "http-1", token.ScopeSandboxUse)
	s, err := mcpserver.New(mcpserver.Options{Sandbox: sb})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.HTTPHandler())
	defer hs.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil).Connect(testCtx(t), &mcp.StreamableClientTransport{Endpoint: hs.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if x := ok[mcpserver.ExecOutput](t, cs, "nimbus_exec", map[string]any{"command": "echo over-http"}); x.Stdout != "over-http\n" {
		t.Fatalf("exec over http: %+v", x)
	}
	for name, set := range map[string]func(*http.Request){
		"cross-site": func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") },
		"rebinding":  func(r *http.Request) { r.Host = "evil.example:80" },
	} {
		req, _ := http.NewRequest(http.MethodPost, hs.URL, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		set(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s request: %d, want 403", name, resp.StatusCode)
		}
	}
}

// A client that passes a progress token hears from a long exec while it
// runs; one that does not hears nothing.
func TestExecReportsProgress(t *testing.T) {
	url := backend(t)
	sb := handle(t, url, "progress-1", token.ScopeSandboxUse)
	s, err := mcpserver.New(mcpserver.Options{Sandbox: sb, ProgressInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	st, ct := mcp.NewInMemoryTransports()
	ss, err := s.MCP().Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	var mu sync.Mutex
	var got []*mcp.ProgressNotificationClientRequest
	handled := make(chan struct{}, 1024)
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			got = append(got, r)
			mu.Unlock()
			select {
			case handled <- struct{}{}:
			default:
			}
		},
	}).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	p := &mcp.CallToolParams{Name: "nimbus_exec", Arguments: map[string]any{"command": "echo started; sleep 1"}}
	p.SetProgressToken("tok-1")
	if res, err := cs.CallTool(ctx, p); err != nil || res.IsError {
		t.Fatal(err, res)
	}
	// The client's handler runs on a queue of its own, behind the call's
	// answer: the reports the server sent during the call may still be on
	// their way to it when CallTool returns.
	for seen := 0; seen < 3; seen++ {
		select {
		case <-handled:
		case <-ctx.Done():
			mu.Lock()
			n := len(got)
			mu.Unlock()
			t.Fatalf("%d progress notifications in a 1 s command at 50 ms", n)
		}
	}
	mu.Lock()
	var last float64
	for i, r := range got {
		if r.Params.ProgressToken != "tok-1" || r.Params.Progress <= last && i > 0 || !strings.Contains(r.Params.Message, "of output so far") {
			t.Errorf("notification %d: %+v", i, r.Params)
		}
		last = r.Params.Progress
	}
	mu.Unlock()
	// The client runs its notification handler apart from the call's
	// answer, so a report of the first call may reach it after CallTool
	// has returned: only reports under another token belong to the second
	// call.
	mu.Lock()
	got = nil
	mu.Unlock()
	ok[mcpserver.ExecOutput](t, cs, "nimbus_exec", map[string]any{"command": "sleep 0.3"})
	mu.Lock()
	defer mu.Unlock()
	var stray []any
	for _, r := range got {
		if r.Params.ProgressToken != "tok-1" {
			stray = append(stray, r.Params.ProgressToken)
		}
	}
	if len(stray) != 0 {
		t.Fatalf("notifications without a token: %d (tokens %v)", len(stray), stray)
	}
}

// An exec whose timeout the Worker never enforces nor reports (it dropped
// timeoutMs) fails once the timeout and the client's grace have passed:
// the agent gets an error instead of a tool call that never returns.
func TestExecTimeoutWhenTheWorkerIgnoresIt(t *testing.T) {
	srv := sandboxtest.New(sandboxtest.Options{IgnoreTimeout: true})
	t.Cleanup(srv.Close)
	c, err := sc.New(sc.Options{Endpoint: srv.URL, Tokens: sc.StaticToken(srv.Token(sandboxtest.Identity{Tenant: "acme", Scopes: []string{token.ScopeSandboxUse}}))})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.Sandbox("job-1", sc.SandboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cs, _ := connect(t, mcpserver.Options{Sandbox: sb})
	start := time.Now()
	msg := failed(t, cs, "nimbus_exec", map[string]any{"command": "sleep 30", "timeoutMs": 200})
	if !strings.Contains(msg, "did not end within its timeout of 200ms") || time.Since(start) > 15*time.Second {
		t.Fatalf("%q after %v", msg, time.Since(start))
	}
}

// readFile's text windows start and end on character boundaries, whatever
// offset and length the model picks: an offset inside a character is not
// "binary", and a length shorter than a character still moves on, so
// following nextOffset always reads the whole file.
func TestReadFileWindowsOnCharacterBoundaries(t *testing.T) {
	url := backend(t)
	sb := handle(t, url, "utf8-1", token.ScopeSandboxUse)
	cs, _ := connect(t, mcpserver.Options{Sandbox: sb})
	const file = "aé日😀b ünï 語😀\nend"
	ok[mcpserver.WriteFileOutput](t, cs, "nimbus_writeFile", map[string]any{"path": "u.txt", "content": file})
	for _, length := range []int{1, 2, 3, 4, 5, 7, 100} {
		var got strings.Builder
		for offset, steps := int64(0), 0; ; steps++ {
			if steps > len(file) {
				t.Fatalf("length %d: no end after %d calls, read %q", length, steps, got.String())
			}
			r := ok[mcpserver.ReadFileOutput](t, cs, "nimbus_readFile", map[string]any{"path": "u.txt", "offset": offset, "length": length})
			if r.Binary || r.Offset != offset {
				t.Fatalf("length %d offset %d: %+v", length, offset, r)
			}
			got.WriteString(r.Content)
			if r.NextOffset == nil {
				break
			}
			if *r.NextOffset <= offset {
				t.Fatalf("length %d offset %d: nextOffset %d does not move on", length, offset, *r.NextOffset)
			}
			offset = *r.NextOffset
		}
		if got.String() != file {
			t.Errorf("length %d: read %q, want %q", length, got.String(), file)
		}
	}
	for offset := range len(file) {
		r := ok[mcpserver.ReadFileOutput](t, cs, "nimbus_readFile", map[string]any{"path": "u.txt", "offset": offset})
		if r.Binary || r.Offset < int64(offset) || r.Offset > int64(offset)+3 || r.Content != file[r.Offset:] {
			t.Fatalf("offset %d: %+v", offset, r)
		}
	}
}

// A timeoutMs beyond what a timer can hold is refused by the schema: it
// used to overflow the client's bound and fail a quick command at once
// with a false E_TIMEOUT.
func TestHugeTimeoutIsRefused(t *testing.T) {
	url := backend(t)
	sb := handle(t, url, "timeout-1", token.ScopeSandboxUse)
	cs, _ := connect(t, mcpserver.Options{Sandbox: sb})
	for _, tool := range []string{"nimbus_exec", "nimbus_runCode"} {
		for _, ms := range []int64{9223372036854, 10000000000000, 1 << 53} {
			args := map[string]any{"command": "echo hi", "timeoutMs": ms}
			if tool == "nimbus_runCode" {
				args = map[string]any{"code": "console.log('hi')", "timeoutMs": ms}
			}
			if msg := failed(t, cs, tool, args); !strings.Contains(msg, "validating") || !strings.Contains(msg, "timeoutMs") {
				t.Errorf("%s timeoutMs %d: %s", tool, ms, msg)
			}
		}
	}
	x := ok[mcpserver.ExecOutput](t, cs, "nimbus_exec", map[string]any{"command": "echo hi", "timeoutMs": mcpserver.MaxTimeoutMs})
	if x.Stdout != "hi\n" || x.ExitCode != 0 {
		t.Fatalf("exec with the largest timeout: %+v", x)
	}
}

// Two servers on one sandbox (two agents on --sandbox review-42, or a
// server restarted with --keep) do not overwrite each other's saved
// output: the file a note names holds that call's output.
func TestSavedOutputIsPerServer(t *testing.T) {
	url := backend(t)
	sb := handle(t, url, "spill-2", token.ScopeSandboxUse)
	a, _ := connect(t, mcpserver.Options{Sandbox: sb, MaxOutput: 100, LocalTempDir: t.TempDir()})
	b, _ := connect(t, mcpserver.Options{Sandbox: sb, MaxOutput: 100, LocalTempDir: t.TempDir()})
	xa := ok[mcpserver.ExecOutput](t, a, "nimbus_exec", map[string]any{"command": "seq 1 1000 | sed s/^/A/"})
	xb := ok[mcpserver.ExecOutput](t, b, "nimbus_exec", map[string]any{"command": "seq 1 1000 | sed s/^/B/"})
	if xa.StdoutFile == "" || xb.StdoutFile == "" || xa.StdoutFile == xb.StdoutFile {
		t.Fatalf("saved files: %q and %q", xa.StdoutFile, xb.StdoutFile)
	}
	r := ok[mcpserver.ReadFileOutput](t, a, "nimbus_readFile", map[string]any{"path": xa.StdoutFile, "length": 3})
	if r.Content != "A1\n" {
		t.Fatalf("%s holds %q, not the first server's output", xa.StdoutFile, r.Content)
	}
}

// Binary output (NUL bytes, or mostly bytes that are not text) is not put
// in front of the model as text: escaped in JSON, 16 KiB of it became
// about 100 KB of context. The result says how much there was and where
// the whole of it is saved; text with a stray invalid byte or colours is
// still shown.
func TestBinaryOutputIsNotShownAsText(t *testing.T) {
	url := backend(t)
	sb := handle(t, url, "binout-1", token.ScopeSandboxUse)
	cs, _ := connect(t, mcpserver.Options{Sandbox: sb, LocalTempDir: t.TempDir()})
	for _, c := range []struct {
		tool  string
		args  map[string]any
		bytes int64
	}{
		{"nimbus_exec", map[string]any{"command": "head -c 100000 /dev/zero"}, 100000},
		{"nimbus_exec", map[string]any{"command": "head -c 3000 /dev/zero"}, 3000},
		{"nimbus_exec", map[string]any{"command": "head -c 3000 /dev/urandom"}, 3000},
		{"nimbus_runCode", map[string]any{"language": "shell", "code": "head -c 3000 /dev/zero"}, 3000},
	} {
		res := call(t, cs, c.tool, c.args)
		if res.IsError {
			t.Fatalf("%v: %s", c.args, text(res))
		}
		b, _ := json.Marshal(res)
		var x mcpserver.ExecOutput
		sj, _ := json.Marshal(res.StructuredContent)
		_ = json.Unmarshal(sj, &x)
		if len(b) > 4000 || len(x.Stdout) > 200 || !x.Truncated || x.StdoutBytes != c.bytes || !strings.Contains(x.Note, "binary") || x.StdoutFile == "" {
			t.Errorf("%v: %d bytes of result, stdout %d bytes, %+v", c.args, len(b), len(x.Stdout), x.Note)
			continue
		}
		r := ok[mcpserver.ReadFileOutput](t, cs, "nimbus_readFile", map[string]any{"path": x.StdoutFile, "length": 10})
		if r.Size != c.bytes || !r.Binary {
			t.Errorf("%v: saved %+v", c.args, r)
		}
	}
	x := ok[mcpserver.ExecOutput](t, cs, "nimbus_exec", map[string]any{"command": `printf 'caf\351 na\357ve r\351sum\351 \033[31mred\033[0m\tx\n'`})
	if x.Stdout != "caf\uFFFD na\uFFFDve r\uFFFDsum\uFFFD \x1b[31mred\x1b[0m\tx\n" || x.Truncated || x.Note != "" {
		t.Fatalf("Latin-1 text with colours: %+v", x)
	}
}

// A background process's binary output is not escaped into the model's
// context either.
func TestBinaryLogsAreNotShownAsText(t *testing.T) {
	url := backend(t)
	sb := handle(t, url, "binlogs-1", token.ScopeSandboxUse)
	cs, _ := connect(t, mcpserver.Options{Sandbox: sb})
	p := ok[sc.StartResult](t, cs, "nimbus_startProcess", map[string]any{"command": "head -c 20000 /dev/zero"})
	waitLogs(t, cs, p.PID, func(l mcpserver.LogsOutput) bool { return l.Exit != nil })
	res := call(t, cs, "nimbus_logs", map[string]any{"pid": p.PID, "bytes": 20000})
	b, _ := json.Marshal(res)
	var l mcpserver.LogsOutput
	sj, _ := json.Marshal(res.StructuredContent)
	_ = json.Unmarshal(sj, &l)
	if res.IsError || len(b) > 4000 || len(l.Text) > 200 || !strings.Contains(l.Note, "binary") || !l.Truncated || l.Exit == nil {
		t.Fatalf("%d bytes of result, text %d bytes, %+v", len(b), len(l.Text), l.Note)
	}
	// Text still comes through.
	q := ok[sc.StartResult](t, cs, "nimbus_startProcess", map[string]any{"command": "echo hello"})
	if l := waitLogs(t, cs, q.PID, func(l mcpserver.LogsOutput) bool { return l.Exit != nil }); l.Text != "hello\n" || l.Note != "" {
		t.Fatalf("text logs: %+v", l)
	}
}

// TestPanicInAToolIsAToolError: the SDK runs handlers without a recover,
// so a bug that panics in one tool ended the whole server (and the test
// binary with it). It must fail that one call with E_INTERNAL, naming the
// tool and where it happened, keep a non-runtime panic value (which could
// hold arguments) out of the message, and leave the server serving.
func TestPanicInAToolIsAToolError(t *testing.T) {
	sb := handle(t, backend(t), "panic-1", token.ScopeSandboxUse)
	cs, logs := connect(t, mcpserver.Options{Sandbox: sb})
	mcpserver.SetTestPanic(t, func(tool string) {
		switch tool {
		case "exec":
			var counts []int
			counts[len(tool)]++ // a runtime error, as a real bug would raise
		case "writeFile":
			panic("contents of the file: s3cr3t")
		}
	})
	msg := failed(t, cs, "nimbus_exec", map[string]any{"command": "echo hi"})
	for _, want := range []string{"internal error: nimbus_exec panicked", "index out of range [4] with length 0", "[E_INTERNAL]", "hint: this is a bug in nimbus"} {
		if !strings.Contains(msg, want) {
			t.Errorf("exec's error %q lacks %q", msg, want)
		}
	}
	msg = failed(t, cs, "nimbus_writeFile", map[string]any{"path": "a.txt", "content": "x"})
	if !strings.Contains(msg, "nimbus_writeFile panicked") || !strings.Contains(msg, "a value of type string") || strings.Contains(msg, "s3cr3t") {
		t.Errorf("writeFile's error: %q", msg)
	}
	if ex := ok[mcpserver.ExistsOutput](t, cs, "nimbus_exists", map[string]any{"path": "/home/user"}); !ex.Exists {
		t.Fatal("exists after a panic: false")
	}
	if l := logs.String(); !strings.Contains(l, "tool=nimbus_exec") || !strings.Contains(l, "error=E_INTERNAL") || strings.Contains(l, "s3cr3t") {
		t.Errorf("logs:\n%s", l)
	}
}

// Close (a server shutting down: `nimbus mcp --http` on a signal) ends the
// calls that are running on every transport, with their commands, instead
// of waiting for them; later calls fail at once.
func TestCloseCancelsRunningCalls(t *testing.T) {
	url := backend(t)
	sb := handle(t, url, "close-1", token.ScopeSandboxUse)
	s, err := mcpserver.New(mcpserver.Options{Sandbox: sb})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.HTTPHandler())
	defer hs.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil).Connect(testCtx(t), &mcp.StreamableClientTransport{Endpoint: hs.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	done := make(chan *mcp.CallToolResult, 1)
	go func() {
		res, _ := cs.CallTool(testCtx(t), &mcp.CallToolParams{Name: "nimbus_exec", Arguments: map[string]any{"command": "touch started; sleep 120"}})
		done <- res
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !ok[mcpserver.ExistsOutput](t, cs, "nimbus_exists", map[string]any{"path": "started"}).Exists {
		if time.Now().After(deadline) {
			t.Fatal("command never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Close()
	var res *mcp.CallToolResult
	select {
	case res = <-done:
	case <-testCtx(t).Done():
		t.Fatal("the running call was not cancelled by Close")
	}
	if res == nil || !res.IsError || !strings.Contains(text(res), "E_CANCELLED") || !strings.Contains(text(res), "shutting down") {
		t.Fatalf("cancelled call: %+v", res)
	}
	if msg := failed(t, cs, "nimbus_exec", map[string]any{"command": "true"}); !strings.Contains(msg, "E_CANCELLED") {
		t.Fatalf("a call after Close: %s", msg)
	}
}

// OnDestroyed hears of each sandbox the destroy tool destroyed, and of
// no destroy that failed, so that the caller forgets only what is gone.
func TestOnDestroyedHearsOfSuccessfulDestroys(t *testing.T) {
	url := backend(t)
	var mu sync.Mutex
	var heard []string
	onDestroyed := func(id string) {
		mu.Lock()
		defer mu.Unlock()
		heard = append(heard, id)
	}
	heardNow := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(heard)
	}
	// A use-only token cannot destroy: nothing to forget.
	use := handle(t, url, "gone-1", token.ScopeSandboxUse)
	cs, _ := connect(t, mcpserver.Options{Sandbox: use, Destroyer: use, OnDestroyed: onDestroyed})
	if msg := failed(t, cs, "nimbus_destroy", map[string]any{}); !strings.Contains(msg, "E_SCOPE_MISSING") {
		t.Fatalf("destroy with a use-only token: %s", msg)
	}
	if h := heardNow(); len(h) != 0 {
		t.Fatalf("a failed destroy was reported: %v", h)
	}
	destroyer := handle(t, url, "gone-1", token.ScopeSandboxUse, token.ScopeSessionDestroy)
	cs2, _ := connect(t, mcpserver.Options{Sandbox: use, Destroyer: destroyer, OnDestroyed: onDestroyed})
	ok[sc.DestroyResult](t, cs2, "nimbus_destroy", map[string]any{"reason": "done"})
	// Called before the tool answered.
	if h := heardNow(); !slices.Equal(h, []string{"gone-1"}) {
		t.Fatalf("heard %v", h)
	}
}
