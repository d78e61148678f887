package mcpserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// Defaults of Options.
const (
	// DefaultNamespace is the Namespace used when Options leaves it
	// empty, so tools are named nimbus_exec and so on.
	DefaultNamespace = "nimbus"
	// DefaultKind is the Kind used when Options leaves it empty.
	DefaultKind = "nimbus"
	// DefaultMaxOutput is how many bytes of each output stream the model
	// sees (half from the start, half from the end).
	DefaultMaxOutput = 16 << 10
	// DefaultMaxRead is how many bytes of a text file one readFile returns
	// when the call does not say.
	DefaultMaxRead = 64 << 10
	// MaxRead is the most one readFile returns, text or binary.
	MaxRead = 1 << 20
	// DefaultExecTimeout bounds exec and runCode calls that give no
	// timeoutMs: a command that never ends would block the agent forever.
	DefaultExecTimeout = 5 * time.Minute
	// MaxExecTimeout is the longest --exec-timeout: the whole days within
	// MaxTimeoutMs, because the timeout is sent as timeoutMs and a Worker
	// fires a longer JavaScript timer at once, killing every command the
	// moment it starts.
	MaxExecTimeout = 24 * 24 * time.Hour
	// DefaultSpillDir is where, in the sandbox, the full output of a
	// truncated command is saved.
	DefaultSpillDir = "/tmp/nimbus-mcp"
	// MaxEntries is the most entries one listFiles returns.
	MaxEntries = 1000
	// MaxMessage is the largest message (one tool call) the server reads,
	// on stdio as over HTTP: a writeFile of the client's whole write limit
	// (20 MiB by default), base64 included, fits. The SDK's stdio default
	// (16 MiB) is smaller; RunStdio answers a longer message with an
	// error instead of ending the session (the SDK's way), which would
	// destroy a fresh sandbox with the agent's work.
	MaxMessage = 32 << 20
	// ExtensionKey names the capabilities extension that carries the
	// Descriptor.
	ExtensionKey = "nimbus.sh/sandbox"
)

// Options configure a Server.
type Options struct {
	// Sandbox is the handle every tool uses. Its token should carry only
	// sandbox:use, pinned to the sandbox.
	Sandbox *sc.Sandbox
	// Destroyer, when set, adds the destroy tool, which uses this handle
	// (its token also carries session:destroy). Nil leaves the tool out.
	Destroyer *sc.Sandbox
	// OnDestroyed, when set, is called with the sandbox's id after the
	// destroy tool destroyed it (not when the destroy failed), before the
	// tool answers: the caller forgets what it recorded about the sandbox
	// (the server itself writes no file). It must not block for long.
	OnDestroyed func(id string)
	// Namespace prefixes tool names ("nimbus" gives nimbus_exec). It must
	// match [A-Za-z0-9_-]{1,32}.
	Namespace string
	// Kind is reported in the Descriptor (default "nimbus").
	Kind string
	// RuntimeAllow is the profile's runtimes.allow list (nil: none, so every
	// runtime is allowed); it decides the reported capabilities.
	RuntimeAllow []string
	// ReadOnly exposes only the tools that read.
	ReadOnly bool
	// MaxOutput is the per-stream output budget (DefaultMaxOutput if 0).
	MaxOutput int
	// MaxRead is readFile's default length for text (DefaultMaxRead if 0).
	MaxRead int
	// ExecTimeout is the timeout of exec and runCode calls that give none
	// (DefaultExecTimeout if 0; negative: none).
	ExecTimeout time.Duration
	// SpillDir is the sandbox directory for full outputs (DefaultSpillDir
	// if ""; "-" disables saving them).
	SpillDir string
	// LocalTempDir holds the local copy of an output while it is captured
	// ("" means the system's temporary directory).
	LocalTempDir string
	// Logger receives one record per tool call and resource read; nil
	// discards them.
	Logger *slog.Logger
	// Version is reported as the server implementation's version.
	Version string
	// Now is the clock for durations (time.Now if nil).
	Now func() time.Time
	// ProgressInterval is how often a running exec reports progress to a
	// client that asked for it with a progress token (5s if 0).
	ProgressInterval time.Duration
}

// Server is an MCP server for one sandbox.
type Server struct {
	o    Options
	sb   *sc.Sandbox
	mcp  *mcp.Server
	desc Descriptor
	seq  atomic.Int64
	// run tells this server's saved outputs from those of other servers
	// on the same sandbox (another agent, an earlier run with --keep).
	run string
	// calls is cancelled by Close: every running tool call ends with it.
	// The SDK does not cancel handlers when Run's context ends (it closes
	// the session and waits for them), so without it a signal would wait
	// for a long command to finish before the server could exit.
	calls      context.Context
	closeCalls context.CancelFunc
}

// New validates o and builds the server with its tools and resources.
func New(o Options) (*Server, error) {
	if o.Sandbox == nil {
		return nil, errors.New("mcpserver: Options.Sandbox is required")
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if !validNamespace(o.Namespace) {
		return nil, fmt.Errorf("mcpserver: invalid namespace %q: use 1 to 32 characters from A-Z a-z 0-9 _ -", o.Namespace)
	}
	if o.ReadOnly && o.Destroyer != nil {
		return nil, errors.New("mcpserver: a read-only server cannot expose destroy")
	}
	if o.Kind == "" {
		o.Kind = DefaultKind
	}
	if o.MaxOutput <= 0 {
		o.MaxOutput = DefaultMaxOutput
	}
	if o.MaxRead <= 0 {
		o.MaxRead = DefaultMaxRead
	}
	o.MaxRead = min(o.MaxRead, MaxRead)
	if o.ExecTimeout == 0 {
		o.ExecTimeout = DefaultExecTimeout
	}
	if o.SpillDir == "" {
		o.SpillDir = DefaultSpillDir
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Version == "" {
		o.Version = "(devel)"
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = 5 * time.Second
	}
	run := make([]byte, 4)
	_, _ = rand.Read(run)
	s := &Server{o: o, sb: o.Sandbox, run: hex.EncodeToString(run)}
	s.calls, s.closeCalls = context.WithCancel(context.Background())
	s.desc = Descriptor{
		Name: o.Namespace, Kind: o.Kind, Namespace: o.Namespace, Sandbox: o.Sandbox.ID(),
		Capabilities: Capabilities(o.RuntimeAllow), ReadOnly: o.ReadOnly, Destroy: o.Destroyer != nil,
	}
	// The descriptor is referenced, not copied: the capabilities are
	// marshalled at initialisation, after every tool is registered.
	caps := &mcp.ServerCapabilities{
		Tools:      &mcp.ToolCapabilities{},
		Resources:  &mcp.ResourceCapabilities{},
		Extensions: map[string]any{ExtensionKey: &s.desc},
	}
	s.mcp = mcp.NewServer(&mcp.Implementation{Name: "nimbus", Title: "Nimbus sandbox", Version: o.Version},
		&mcp.ServerOptions{Instructions: s.instructions(), Capabilities: caps})
	s.register()
	s.mcp.AddReceivingMiddleware(s.logCalls)
	return s, nil
}

func validNamespace(ns string) bool {
	if len(ns) == 0 || len(ns) > 32 {
		return false
	}
	for i := 0; i < len(ns); i++ {
		c := ns[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// MCP returns the SDK server, to run on any transport.
func (s *Server) MCP() *mcp.Server { return s.mcp }

// Descriptor returns what the server reports about itself.
func (s *Server) Descriptor() Descriptor { return s.desc }

// Run serves one client over t (stdio, in-memory…) until it disconnects or
// ctx ends; when ctx ends, running tool calls are cancelled (Close), so Run
// returns without waiting for their commands. For standard input and
// output, use RunStdio.
func (s *Server) Run(ctx context.Context, t mcp.Transport) error {
	defer context.AfterFunc(ctx, s.Close)()
	return s.mcp.Run(ctx, t)
}

// Close cancels every running tool call, and the commands they run, on
// every transport; calls made afterwards fail at once with CodeCancelled.
// A server that shuts down calls it so that it does not wait for a long
// command (the HTTP transport: when it stops serving).
func (s *Server) Close() { s.closeCalls() }

// HTTPHandler serves the streamable HTTP transport. It rejects requests
// whose Host is not a loopback name (DNS rebinding) and cross-origin
// browser requests; the caller adds authentication.
func (s *Server) HTTPHandler() http.Handler {
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.mcp }, &mcp.StreamableHTTPOptions{
		SessionTimeout:      30 * time.Minute,
		MaxRequestBodyBytes: MaxMessage,
	})
	return http.NewCrossOriginProtection().Handler(h)
}

func (s *Server) instructions() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Tools act on the Nimbus sandbox %q: a per-session virtual OS with a shell, Node.js (javascript, typescript), npm and git", s.sb.ID())
	if slices.Contains(s.desc.Capabilities, "python") {
		b.WriteString(", Python")
	}
	if slices.Contains(s.desc.Capabilities, "ruby") {
		b.WriteString(", Ruby")
	}
	if slices.Contains(s.desc.Capabilities, "clang_wasi") {
		b.WriteString(", clang compiling to WASI")
	}
	fmt.Fprintf(&b, ". Paths are absolute POSIX paths; relative ones are resolved against %s. ", s.sb.Root())
	b.WriteString("There is no Docker, apt, GPU or native ELF execution. ")
	if s.o.ReadOnly {
		b.WriteString("This server is read-only: it can read files, list processes, ports, apps and runtimes, but change nothing. ")
	} else {
		fmt.Fprintf(&b, "Run long-lived servers with %s and read their output with %s; exec waits for the command to end. ", s.name("startProcess"), s.name("logs"))
		fmt.Fprintf(&b, "Long output is cut: the result says how much, and a truncated command's full output is saved in the sandbox under %s. ", s.o.SpillDir)
	}
	fmt.Fprintf(&b, "Capabilities: %s.", strings.Join(s.desc.Capabilities, ", "))
	return b.String()
}

// name is the full tool name: namespace_tool.
func (s *Server) name(tool string) string { return s.o.Namespace + "_" + tool }

// toolSpec describes one tool before registration.
type toolSpec struct {
	name, title, desc string
	// read marks tools that change nothing; only they exist in read-only
	// mode.
	read        bool
	destructive bool
	idempotent  bool
	openWorld   bool
	// schema adjusts the inferred input schema (enums, bounds, unions).
	schema func(*jsonschema.Schema)
}

// callKey carries the callInfo of the running call through the context.
type callKey struct{}

// requestKey carries the running call's request, for progress reports.
type requestKey struct{}

// callInfo is filled in by handlers for the log line.
type callInfo struct {
	exitCode *int
	code     string
}

func infoOf(ctx context.Context) *callInfo {
	if ci, ok := ctx.Value(callKey{}).(*callInfo); ok {
		return ci
	}
	return &callInfo{}
}

// setExit records the remote command's exit code for the log.
func setExit(ctx context.Context, code int) { infoOf(ctx).exitCode = &code }

// addTool registers a tool whose input schema is inferred from In and
// adjusted by spec.schema, and whose output schema is inferred from Out.
// Handler errors become tool errors the model can read.
func addTool[In, Out any](s *Server, spec toolSpec, h func(ctx context.Context, in In) (*mcp.CallToolResult, Out, error)) {
	if s.o.ReadOnly && !spec.read {
		return
	}
	in, err := jsonschema.For[In](nil)
	if err != nil {
		panic(fmt.Sprintf("mcpserver: input schema of %s: %v", spec.name, err))
	}
	if spec.schema != nil {
		spec.schema(in)
	}
	destructive, openWorld := spec.destructive, spec.openWorld
	tool := &mcp.Tool{
		Name:        s.name(spec.name),
		Title:       spec.title,
		Description: spec.desc,
		InputSchema: in,
		Annotations: &mcp.ToolAnnotations{
			Title:           spec.title,
			ReadOnlyHint:    spec.read,
			DestructiveHint: &destructive,
			IdempotentHint:  spec.idempotent || spec.read,
			OpenWorldHint:   &openWorld,
		},
	}
	s.desc.Tools = append(s.desc.Tools, tool.Name)
	mcp.AddTool(s.mcp, tool, func(ctx context.Context, req *mcp.CallToolRequest, input In) (*mcp.CallToolResult, Out, error) {
		if testPanic != nil {
			testPanic(spec.name)
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(s.calls, cancel)()
		res, out, err := h(context.WithValue(ctx, requestKey{}, req), input)
		if err != nil {
			te := toolError(err)
			if s.calls.Err() != nil && te.Code == CodeCancelled {
				te = &ToolError{Code: CodeCancelled, Message: "the MCP server is shutting down: the call was cancelled", Err: err,
					Hint: "a command that was running has been cancelled; run it again once the server is back"}
			}
			infoOf(ctx).code = te.Code
			var zero Out
			return nil, zero, te
		}
		return res, out, nil
	})
}

// logCalls logs every tool call and resource read: the tool, the sandbox,
// the duration and the exit code or error code. Arguments and results are
// never logged: they hold file contents and command output.
func (s *Server) logCalls(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		var subject string
		switch method {
		case "tools/call":
			if p, ok := req.GetParams().(*mcp.CallToolParamsRaw); ok {
				subject = p.Name
			}
		case "resources/read":
			subject = "resources/read"
		default:
			return next(ctx, method, req)
		}
		info := &callInfo{}
		ctx = context.WithValue(ctx, callKey{}, info)
		start := s.o.Now()
		res, err := recovered(ctx, method, subject, next, req)
		attrs := []slog.Attr{
			slog.String("tool", logSafe(subject)),
			slog.String("sandbox", s.sb.ID()),
			slog.Duration("duration", s.o.Now().Sub(start).Round(time.Millisecond)),
		}
		if info.exitCode != nil {
			attrs = append(attrs, slog.Int("exitCode", *info.exitCode))
		}
		level := slog.LevelInfo
		if tr, ok := res.(*mcp.CallToolResult); ok && err == nil && tr.IsError && info.code == "" {
			// The SDK refused the arguments before the handler ran.
			info.code = CodeSchema
		}
		if err != nil && info.code == "" {
			info.code = CodeUnknownTool
			if method == "resources/read" {
				info.code = CodeNotFound
			}
		}
		if info.code != "" {
			level = slog.LevelWarn
			attrs = append(attrs, slog.String("error", info.code))
		}
		s.o.Logger.LogAttrs(ctx, level, "call", attrs...)
		return res, err
	}
}

// recovered calls next, turning a panic into a failure of this one call:
// the SDK runs handlers without a recover, so a bug in one tool would end
// the server, the sandbox's clean-up and every other call in flight. A
// tool call gets a tool error (isError) the model can read; a resource
// read gets an error response.
func recovered(ctx context.Context, method, subject string, next mcp.MethodHandler, req mcp.Request) (res mcp.Result, err error) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		te := panicError(subject, v)
		infoOf(ctx).code = te.Code
		if method == "tools/call" {
			r := &mcp.CallToolResult{}
			r.SetError(te)
			res, err = r, nil
			return
		}
		res, err = nil, te
	}()
	return next(ctx, method, req)
}

// testPanic, when a test sets it, is called at the start of each tool's
// handler with the tool's name, so a test can make a call panic where a
// bug would.
var testPanic func(tool string)

// panicError describes a recovered panic without its value's contents: a
// runtime error says what went wrong ("index out of range [3] with length
// 2"), while any other value might hold arguments or file contents, so
// only its type is named. Where it happened is the first frame outside
// the runtime.
func panicError(subject string, v any) *ToolError {
	what := fmt.Sprintf("a value of type %T", v)
	if re, ok := v.(runtime.Error); ok {
		what = re.Error()
	}
	where := ""
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	for {
		f, more := frames.Next()
		if f.Function != "" && !strings.HasPrefix(f.Function, "runtime.") {
			where = " in " + f.Function
			break
		}
		if !more {
			break
		}
	}
	return &ToolError{
		Code:    CodeInternal,
		Message: fmt.Sprintf("internal error: %s panicked%s: %s", logSafe(subject), where, what),
		Hint:    "this is a bug in nimbus, not in the call; the server is still running, so other tools can be used; please report it",
		Err:     fmt.Errorf("panic: %v", v),
	}
}

// logSafe bounds a client-chosen name before it reaches the log.
func logSafe(s string) string {
	if len(s) > 128 {
		s = s[:128]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// resolve makes a path absolute against the sandbox root, as the SDK does
// for cwd.
func (s *Server) resolve(p string) string { return sc.ResolvePath(s.sb.Root(), p) }

func (s *Server) register() {
	s.registerExec()
	s.registerFiles()
	s.registerProcesses()
	s.registerPorts()
	s.registerRuntimes()
	s.registerResources()
}
