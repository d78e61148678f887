// Package localsandbox is a Nimbus sandbox backend that runs on the local
// machine: an http.Handler speaking the remote sandbox API of a Nimbus
// Worker (POST <base>/sandboxes/<id>/rpc, DELETE /s/<id>/, path-style
// previews /s/<id>/port/<n>/ and /s/<id>/app/<name>/, preview hosts
// <n>--<id>.localhost and <name>--<id>.localhost), with the same auth,
// envelope, codes, statuses and exec stream framing, so the sandbox client
// and every `nimbus sandbox` command work against it unchanged.
//
// Each sandbox is a directory under the data directory named by its Durable
// Object name (<tenant>:<subject or _>:<id>); sandbox paths such as
// /home/user/x map inside it and every file operation goes through os.Root,
// so no path, ".." or symlink reaches outside. Commands run as the local
// user with /bin/sh: this is a development backend, not a security
// boundary.
//
// On Linux, where unprivileged user namespaces are allowed, each command
// runs in its own user, mount and PID namespaces, where the sandbox's
// home/user is mounted at /home/user and its tmp at /tmp: commands and
// file operations then agree on every path under them. Elsewhere commands
// see host paths (see Isolation). Either way every process a command
// starts ends with it, with destroy and with Close (programs must call
// MaybeRunInit for that: see its documentation).
package localsandbox

import (
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/nimbus-sh/nimbus/internal/localhost"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox/internal/sandboxinit"
	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// DefaultBasePath is the API mount point used when Options.BasePath is "".
const DefaultBasePath = sandboxserver.DefaultBasePath

// DefaultReadLimit is the largest file a single read returns, as the
// Worker's 28 MiB filesystem RPC envelope.
const DefaultReadLimit int64 = 29360128

// MaxBody bounds a request body: what the largest legal request needs, a
// 20 MiB write (the client's default chunk) in base64 (26.7 MiB) plus its
// envelope, with room to spare. The platform's own limit is 100 MB, but no
// client of this API sends more than one chunk per request, and every
// byte accepted here is memory.
const MaxBody = 32 << 20

// DefaultShell runs every command.
const DefaultShell = "/bin/sh"

// Runtimes is a profile's runtime policy (profile.runtimes).
type Runtimes = sandboxserver.Runtimes

// Profile is a server-side sandbox profile.
type Profile = sandboxserver.Profile

// Options configure a Server.
type Options struct {
	// DataDir holds one directory per sandbox (under DataDir/sandboxes). It
	// is required.
	DataDir string
	// Secret is JWT_SECRET; without it every request answers 500
	// E_AUTH_CONFIG_MISSING, as a Worker without a secret does.
	Secret string
	// PreviousSecret is JWT_SECRET_PREVIOUS (rotation window).
	PreviousSecret string
	// BasePath is the API mount point; "" means DefaultBasePath.
	BasePath string
	// RequiredScopes are the scopes of the rpc route; nil means
	// ["sandbox:use"].
	RequiredScopes []string
	// Profiles by name; "default" is the fallback.
	Profiles map[string]Profile
	// HostEnv is the environment commands start from (typically PATH,
	// LANG, TERM…); HOME, TMPDIR, PWD and NIMBUS_SANDBOX_ID are set per
	// sandbox. The server never reads its own process environment, so
	// secrets such as JWT_SECRET only reach commands if the caller puts
	// them here.
	HostEnv []string
	// Shell is the shell commands run with; "" means /bin/sh.
	Shell string
	// ReadLimit bounds single reads; 0 means DefaultReadLimit.
	ReadLimit int64
	// MaxBufferedOutput bounds what buffered exec and runCode keep of each
	// of stdout and stderr; 0 means 32 MiB. execStream has no limit.
	MaxBufferedOutput int
	// MaxBufferedOutputTotal bounds the memory the output of buffered
	// exec and runCode takes across all sandboxes together, until each
	// answer is written; 0 means DefaultMaxBufferedOutputTotal (a value
	// under 64 KiB is raised to that). A call whose output finds it used
	// up has its command paused, as a slow execStream reader pauses its
	// command, until other calls give memory back; after
	// BufferedOutputWait it fails with 503 CodeOutputBudget instead of
	// answering output with a hole in it.
	MaxBufferedOutputTotal int64
	// BufferedOutputWait is how long a buffered call waits for output
	// memory; 0 means DefaultBufferedOutputWait.
	BufferedOutputWait time.Duration
	// NoBackground refuses startProcess and exposePort: an in-process
	// backend that lives only as long as one CLI command can neither keep
	// processes running nor serve previews.
	NoBackground bool
	// NoBackgroundHint is the advice given when they are refused.
	NoBackgroundHint string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// TerminalShell is the interactive shell of the session terminal
	// (/s/<id>/ws), typically the user's $SHELL; "" means Shell. So does
	// a shell the sandbox cannot run: a path that is not an executable
	// file, one that namespaces hide (under /tmp or /home/user) and one
	// that fails to start (its interpreter hidden, say; then every later
	// terminal too). The terminal's first line then says so, and Logf
	// gets the failure; TerminalShell reports the choice.
	TerminalShell string
	// ProcessLogBytes is how much output of each background process its
	// log ring keeps for processLogs; 0 means DefaultProcessLogBytes, the
	// Worker session's ring. It exists so that tests of clients can make
	// the real ring lose output with a few KiB rather than a flood: output
	// evicted between two polls is what clients must report as lost.
	ProcessLogBytes int
	// TerminalScrollback is how much terminal output is kept and replayed
	// on attach; 0 means DefaultTerminalScrollback.
	TerminalScrollback int
	// TerminalOwnerTimeout is how long a terminal socket whose peer went
	// silent keeps the terminal from other clients (they get 409 until
	// then); 0 means DefaultTerminalOwnerTimeout.
	TerminalOwnerTimeout time.Duration
	// TerminalIdleTimeout is how long a terminal socket's peer may send
	// nothing (no message, no WebSocket ping or pong) before the server
	// pings it; a peer that does not answer within an eighth of it (at
	// least 1 s) is gone, and its socket is closed with 1008 "client
	// silent". 0 means DefaultTerminalIdleTimeout.
	TerminalIdleTimeout time.Duration
	// PreviewIdleTimeout bounds a preview connection that switched
	// protocols (the app's WebSocket) whose client vanished without a
	// FIN: once the client has sent nothing for it, the server sends it
	// a WebSocket ping between the app's frames (its pong goes on to the
	// app, as an unsolicited pong may), and closes both sides when
	// nothing comes within an eighth of it (at least 1 s); while the ping
	// cannot go out, when no byte reached the client for that eighth.
	// Other protocols, which cannot be probed, are closed when no byte
	// moved either way for it and that eighth. 0 means
	// DefaultPreviewIdleTimeout.
	PreviewIdleTimeout time.Duration
	// Hosts, when not nil, refuses requests whose Host header is not for
	// this server (DNS rebinding). A listening server sets it; the
	// in-process transport, which has no real host, leaves it nil.
	Hosts *HostPolicy
	// Isolation selects namespaces or host paths; the zero value uses
	// namespaces where the machine allows them.
	Isolation Isolation
	// Logf, when not nil, is the server's own log: it gets the full text
	// of a failure whose answer to the client leaves host paths out.
	Logf func(format string, args ...any)
}

// Server is the local backend. Create it with New and release it with
// Close, which kills every process it started.
type Server struct {
	opts  Options
	iso   *isolation
	inits *sandboxinit.Pool // the inits commands run under, between commands
	roots rootCache         // directory handles of sandboxes not in use
	// outBudget is the memory buffered exec and runCode hold together.
	outBudget *outputBudget
	auth      sandboxserver.TokenAuth
	api       *sandboxserver.Handler
	root      string

	mu        sync.Mutex
	sandboxes map[string]*sandbox
	gates     map[string]*gate // see barrier.go
	spares    *spareFiles      // see spare_linux.go
	closed    bool

	// previewJTIs are the single-use preview tokens exchanged.
	previewJTIs singleUse

	// rt are the host's runtimes (see hostRuntimes, guarded by rtMu),
	// looked up once rtFound; rtKnown[i] says rt[i]'s version was read.
	// termShellFailed: Options.TerminalShell failed to start in a
	// sandbox once; terminals run Shell since.
	termShellFailed atomic.Bool

	rtMu    sync.Mutex
	rtFound bool
	rt      []hostRuntime
	rtKnown []bool
	nodes   nodeVersions
}

// ValidID reports whether id satisfies the sandbox id rule
// ^[A-Za-z0-9._-]{1,128}$.
func ValidID(id string) bool { return sandboxserver.ValidID(id) }

// New checks opts and prepares the data directory (mode 0700). A data
// directory that other users could change (not this user's, writable by
// others, or inside a directory they can replace it in) is refused with
// CodeConfig.
func New(opts Options) (*Server, error) {
	if runtime.GOOS == "windows" {
		return nil, &Error{Code: CodeConfig, Message: "localsandbox: the local sandbox backend needs a POSIX shell and process groups (Linux or macOS)"}
	}
	if opts.DataDir == "" {
		return nil, &Error{Code: CodeConfig, Message: "localsandbox: a data directory is required"}
	}
	abs, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, &Error{Code: CodeConfig, Message: "localsandbox: bad data directory", Err: err}
	}
	opts.DataDir = abs
	opts.BasePath = sandboxserver.NormalizeBasePath(opts.BasePath)
	if opts.RequiredScopes == nil {
		opts.RequiredScopes = []string{token.ScopeSandboxUse}
	}
	if opts.Shell == "" {
		opts.Shell = DefaultShell
	}
	if opts.ReadLimit <= 0 {
		opts.ReadLimit = DefaultReadLimit
	}
	if opts.MaxBufferedOutput <= 0 {
		opts.MaxBufferedOutput = 32 << 20
	}
	if opts.MaxBufferedOutputTotal <= 0 {
		opts.MaxBufferedOutputTotal = DefaultMaxBufferedOutputTotal
	}
	opts.MaxBufferedOutputTotal = max(opts.MaxBufferedOutputTotal, outBlock)
	if opts.BufferedOutputWait <= 0 {
		opts.BufferedOutputWait = DefaultBufferedOutputWait
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ProcessLogBytes <= 0 {
		opts.ProcessLogBytes = DefaultProcessLogBytes
	}
	if opts.TerminalScrollback <= 0 {
		opts.TerminalScrollback = DefaultTerminalScrollback
	}
	if opts.TerminalOwnerTimeout <= 0 {
		opts.TerminalOwnerTimeout = DefaultTerminalOwnerTimeout
	}
	if opts.TerminalIdleTimeout <= 0 {
		opts.TerminalIdleTimeout = DefaultTerminalIdleTimeout
	}
	if opts.PreviewIdleTimeout <= 0 {
		opts.PreviewIdleTimeout = DefaultPreviewIdleTimeout
	}
	root := filepath.Join(abs, "sandboxes")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, &Error{Code: CodeConfig, Message: "localsandbox: cannot create the data directory", Err: err}
	}
	if err := checkDataDir(abs, "sandboxes"); err != nil {
		return nil, &Error{Code: CodeConfig, Message: "localsandbox: refusing a data directory other users could change", Err: err}
	}
	iso, err := newIsolation(opts.Isolation, abs)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:      opts,
		iso:       iso,
		inits:     &sandboxinit.Pool{},
		auth:      sandboxserver.TokenAuth{Secret: opts.Secret, Previous: opts.PreviousSecret, Now: opts.Now, Cache: sandboxserver.NewTokenCache(256)},
		root:      root,
		sandboxes: map[string]*sandbox{},
		gates:     map[string]*gate{},
		spares:    newSpareFiles(abs),
		outBudget: newOutputBudget(opts.MaxBufferedOutputTotal),
	}
	s.api = &sandboxserver.Handler{
		BasePath:       opts.BasePath,
		Auth:           s.auth,
		RequiredScopes: opts.RequiredScopes,
		Profiles:       opts.Profiles,
		Backend:        backend{s},
		MaxBody:        MaxBody,
		Fallback:       http.HandlerFunc(s.serveOther),
	}
	return s, nil
}

// DataDir returns the absolute data directory.
func (s *Server) DataDir() string { return s.opts.DataDir }

// BasePath returns the normalised API mount point.
func (s *Server) BasePath() string { return s.opts.BasePath }

// SandboxDir returns the host directory of the sandbox with Durable Object
// name do (it may not exist yet).
func (s *Server) SandboxDir(do string) string { return filepath.Join(s.root, do) }

// Close kills every process of every sandbox and waits for them. Files
// stay on disk: they persist until destroy, as a Worker's storage does.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	boxes := make([]*sandbox, 0, len(s.sandboxes))
	for _, sb := range s.sandboxes {
		boxes = append(boxes, sb)
	}
	s.sandboxes = map[string]*sandbox{}
	s.mu.Unlock()
	// Terminal clients learn that this server is going (1012), not that
	// their session ended: they may reconnect to the next server.
	var closing []<-chan struct{}
	for _, sb := range boxes {
		if ch := sb.closeTerminal(websocket.StatusServiceRestart, serverShutdown); ch != nil {
			closing = append(closing, ch)
		}
	}
	waitAll(closing, 2*time.Second)
	for _, sb := range boxes {
		sb.shutdown()
	}
	s.inits.Close()
	s.roots.stop()
	s.spares.close()
	return nil
}

// waitAll waits for every channel to close, at most d in all.
func waitAll(chs []<-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for _, ch := range chs {
		if ch == nil {
			continue
		}
		select {
		case <-ch:
		case <-t.C:
			return
		}
	}
}

// ServeHTTP routes the remote API, the session root and port previews.
// A preview host (<port>--<id>.localhost, <name>--<id>.localhost) comes
// first, as in the Worker's router: every path of it is the preview, and
// nothing else is served on it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.opts.Hosts != nil && !s.opts.Hosts.Allow(r.Host) {
		refuseHost(w, r)
		return
	}
	if id, kind, label, isPreview, ok := previewHost(r.Host); isPreview {
		if !ok {
			http.NotFound(w, r)
			return
		}
		path := r.URL.EscapedPath()
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		s.servePreview(w, r, id, kind, label+path, true)
		return
	}
	if localhost.Is(r.Host) {
		// Previews are served on preview hosts here (previewHostBase):
		// say so, so that clients print those URLs.
		w.Header().Set(PreviewHostSuffixHeader, PreviewHostSuffix)
	}
	s.api.ServeHTTP(w, r)
}

// serveOther answers what the API core leaves: /new, the session root and
// port previews under /s/.
func (s *Server) serveOther(w http.ResponseWriter, r *http.Request) {
	if r.URL.EscapedPath() == "/new" {
		s.serveNew(w, r)
		return
	}
	if rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/s/"); ok {
		s.serveSession(w, r, rest)
		return
	}
	http.NotFound(w, r)
}

// loadLocked returns the live sandbox of Durable Object name do; s.mu is
// held.
func (s *Server) loadLocked(do, id string) *sandbox {
	if sb := s.sandboxes[do]; sb != nil {
		return sb
	}
	sb := openSandbox(s, do, id)
	s.sandboxes[do] = sb
	return sb
}

// removeTree removes dir, first making directories writable so that a
// chmod inside the sandbox cannot make destroy fail.
func removeTree(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

func (s *Server) nowMs() int64 { return s.opts.Now().UnixMilli() }

var _ http.Handler = (*Server)(nil)
