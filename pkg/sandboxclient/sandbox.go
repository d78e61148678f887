package sandboxclient

import (
	"context"
	"encoding/json"
	"github.com/nimbus-sh/nimbus/internal/idrule"
	"net/http"
	"sync"
	"time"
)

// ValidID reports whether id satisfies the sandbox id rule
// ^[A-Za-z0-9._-]{1,128}$.
func ValidID(id string) bool { return idrule.Valid(id) }

// SandboxOptions select the profile and defaults of a Sandbox handle, as the
// SDK's sandbox(id, options) does.
type SandboxOptions struct {
	// Profile is the server profile name; "" means "default".
	Profile string
	// Root is the sandbox root and default cwd; "" means /home/user.
	Root string
	// ShellID names a persistent shell used by exec-family calls by default.
	ShellID string
	// Tenant and Subject are sent as the SDK sends them; the remote server
	// ignores them (identity comes from the token).
	Tenant, Subject string
	// Preinstall is the ready op's runtime list (the server's profile list
	// wins when it has one).
	Preinstall []string
	// PreviewBaseURL is the profile's preview.baseUrl ({sessionId} is
	// replaced by the escaped id), used only to build port URLs.
	PreviewBaseURL string
	// PreviewPathStyle is the profile's preview.pathStyle.
	PreviewPathStyle bool
}

// Sandbox is a handle on one remote sandbox. It is safe for concurrent use.
type Sandbox struct {
	c    *Client
	id   string
	opts SandboxOptions

	readyMu sync.Mutex
	ready   *ReadyResult
}

// Sandbox returns a handle on the sandbox id. The id is checked locally
// against the server's rule, as the SDK does.
func (c *Client) Sandbox(id string, opts SandboxOptions) (*Sandbox, error) {
	if !ValidID(id) {
		return nil, &Error{Code: CodeSandboxID, Message: "invalid sandbox id " + quote(id) + ": use 1 to 128 characters from A-Z a-z 0-9 . _ -"}
	}
	if opts.Profile == "" {
		opts.Profile = DefaultProfile
	}
	if opts.Root == "" {
		opts.Root = DefaultRoot
	}
	if opts.Preinstall == nil {
		opts.Preinstall = []string{}
	}
	return &Sandbox{c: c, id: id, opts: opts}, nil
}

// ID returns the sandbox id.
func (s *Sandbox) ID() string { return s.id }

// Root returns the sandbox root used for defaults.
func (s *Sandbox) Root() string { return s.opts.Root }

// Client returns the client the handle belongs to.
func (s *Sandbox) Client() *Client { return s.c }

// IsSafeOp reports whether op is retried by the client on 503 +
// Retry-After: the operations the spec lists as safe to retry (§8);
// everything else is sent exactly once.
func IsSafeOp(op string) bool {
	switch op {
	case "ready", "bootProbe",
		"readFile", "readFileBytes", "stat", "lstat", "readlink", "readdir", "exists", "readRange",
		"listRuntimes", "listProcesses", "listPorts", "listApps", "processLogs",
		"mkdir", "writeFile", "deleteFile", "destroy", "unexposePort", "exposePort":
		return true
	}
	return false
}

func (s *Sandbox) body(op string, args []any) requestBody {
	if args == nil {
		args = []any{}
	}
	return requestBody{
		Profile: s.opts.Profile, Root: s.opts.Root,
		Tenant: s.opts.Tenant, Subject: s.opts.Subject,
		Op: op, Args: args, Diag: s.c.diag,
	}
}

// slowOp reports whether op does real work before it answers (installing
// runtimes), so that it may take longer than the HTTP timeout to send its
// headers.
func slowOp(op string) bool {
	return op == "ready" || op == "installRuntime" || op == "ensureRuntimes"
}

func (s *Sandbox) rpcRequest(op string, body bodyFunc, accept string) request {
	r := request{
		method: http.MethodPost, url: s.c.rpcURL(s.id), sandboxID: s.id,
		accept: accept, body: body, safe: IsSafeOp(op),
	}
	if slowOp(op) {
		r.wait = SlowOpFactor * s.c.timeout
	}
	return r
}

// commandWait is how long a buffered command op (exec, runCode) may take to
// answer: the command's own timeout plus the HTTP timeout, or no bound for
// a command without a timeout (it may legitimately run for hours; the
// TCP keepalive still notices a peer that is gone).
func (s *Sandbox) commandWait(timeout time.Duration) time.Duration {
	if timeout <= 0 || s.c.timeout < 0 {
		return -1
	}
	return timeout + s.c.timeout
}

// call runs one JSON op after the memoised ready and decodes its result into
// dest (nil discards it).
func (s *Sandbox) call(ctx context.Context, op string, args []any, dest any) error {
	return s.callWait(ctx, op, args, dest, 0)
}

// callWait is call with the header wait of the op (see request.wait).
func (s *Sandbox) callWait(ctx context.Context, op string, args []any, dest any, wait time.Duration) error {
	if err := s.ensureReady(ctx); err != nil {
		return err
	}
	return s.rawCallWait(ctx, op, args, dest, wait)
}

// rawCall runs one JSON op without the ready step.
func (s *Sandbox) rawCall(ctx context.Context, op string, args []any, dest any) error {
	return s.rawCallWait(ctx, op, args, dest, 0)
}

func (s *Sandbox) rawCallWait(ctx context.Context, op string, args []any, dest any, wait time.Duration) error {
	b, err := json.Marshal(s.body(op, args))
	if err != nil {
		return newError(CodeInvalidArgument, op+": cannot encode arguments", err)
	}
	r := s.rpcRequest(op, staticBody(b), mediaJSON)
	if wait != 0 {
		r.wait = wait
	}
	resp, err := s.c.send(ctx, r)
	if err != nil {
		return err
	}
	return s.c.decodeEnvelope(ctx, op, resp, dest)
}
