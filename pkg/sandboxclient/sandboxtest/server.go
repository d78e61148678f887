// Package sandboxtest is an in-process fake Nimbus Worker speaking the remote
// sandbox API (envelope, statuses, codes, bytes wire type, exec stream
// framing, /new and DELETE /s/<id>/) for tests of the client and the CLI.
//
// It keeps one in-memory sandbox per Durable Object name
// (<tenant>:<subject or _>:<id>), runs commands with a small built-in shell,
// records every request, and can inject the failures a real deployment
// shows: 503 with Retry-After, truncated streams, servers without
// execStream, and a disabled remote API (302).
package sandboxtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// Identity is what a verified token grants.
type Identity struct {
	Tenant  string
	Subject string
	// Scopes nil means the token has no scopes claim: full trust.
	Scopes []string
	// SID pins the token to one sandbox id when set.
	SID string

	// claims and doPrefix are set for verified JWTs; the checks then go
	// through pkg/token.
	claims   *token.Claims
	doPrefix string
}

// AuthError is an authentication failure reported by a Verifier: the
// wire failure of the server core.
type AuthError = sandboxserver.Error

// Verifier turns a bearer token into an identity.
type Verifier interface {
	Verify(token string) (*Identity, *AuthError)
}

// StaticTokens is a Verifier backed by a fixed token table; unknown tokens
// fail like a bad signature.
type StaticTokens map[string]Identity

// Verify looks the token up.
func (t StaticTokens) Verify(token string) (*Identity, *AuthError) {
	id, ok := t[token]
	if !ok {
		return nil, &AuthError{Status: 401, Code: "E_TOKEN_SIGNATURE", Message: "Token signature invalid"}
	}
	return &id, nil
}

// Runtimes is a profile's runtime policy.
type Runtimes = sandboxserver.Runtimes

// Profile is a server-side sandbox profile.
type Profile = sandboxserver.Profile

// Options configure the fake.
type Options struct {
	// Verifier checks tokens; nil with Legacy false answers 500
	// E_AUTH_CONFIG_MISSING like a deployment without JWT_SECRET.
	Verifier Verifier
	// Legacy disables auth (allowLegacy without JWT_SECRET).
	Legacy bool
	// RequiredScopes defaults to ["sandbox:use"].
	RequiredScopes []string
	// BasePath defaults to /api/nimbus/v1.
	BasePath string
	// Disabled answers every /api/ path with 302 Location: / (remote API off).
	Disabled bool
	// NoExecStream makes execStream an unknown op (servers before 2026-09-28).
	NoExecStream bool
	// TruncateStream ends execStream bodies without the exit frame.
	TruncateStream bool
	// Profiles by name; "default" is the fallback.
	Profiles map[string]Profile
	// ReadLimit is the read payload limit (default 29360128 bytes).
	ReadLimit int64
	// MaxPiece is the largest piece a stream frame is written in (default 16).
	MaxPiece int
	// Seed seeds piece sizes and capabilities.
	Seed uint64
	// Now is the clock (default time.Now).
	Now func() time.Time
	// ExecDelay is added before every command runs (to test cancellation).
	ExecDelay time.Duration
	// IgnoreTimeout makes the fake disregard timeoutMs, like a Worker that
	// never reports the timeout (to test the client's own bound).
	IgnoreTimeout bool
	// Delay holds ops back for a while before they run (to observe
	// concurrency).
	Delay map[string]time.Duration
	// NoRecord stops request recording (benchmarks: keeps memory flat).
	NoRecord bool
}

// Request is one recorded request.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	// Body is the raw body (at most 1 MiB kept; BodySize is the full size).
	Body     []byte
	BodySize int64
	// Op and Args are set for rpc requests with a JSON body.
	Op   string
	Args json.RawMessage
	// DO is the Durable Object name the request reached ("" if refused).
	DO     string
	Status int
}

// Server is a running fake Worker.
type Server struct {
	*httptest.Server
	opts Options
	api  *sandboxserver.Handler

	mu        sync.Mutex
	rng       *rand.Rand
	sandboxes map[string]*sandbox
	requests  []Request
	fail503   map[string]int
	nextPID   int64
	inflight  map[string]int
	maxFlight map[string]int
}

// MaxInFlight returns the most requests for op the fake was serving at once.
func (s *Server) MaxInFlight(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxFlight[op]
}

// track counts op as in flight until the returned func is called.
func (s *Server) track(op string) func() {
	s.mu.Lock()
	s.inflight[op]++
	s.maxFlight[op] = max(s.maxFlight[op], s.inflight[op])
	d := s.opts.Delay[op]
	s.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
	return func() {
		s.mu.Lock()
		s.inflight[op]--
		s.mu.Unlock()
	}
}

// New starts a fake Worker. Close it when done.
func New(opts Options) *Server {
	opts.BasePath = sandboxserver.NormalizeBasePath(opts.BasePath)
	if opts.RequiredScopes == nil {
		opts.RequiredScopes = []string{"sandbox:use"}
	}
	if opts.ReadLimit == 0 {
		opts.ReadLimit = 29360128
	}
	if opts.MaxPiece <= 0 {
		opts.MaxPiece = 16
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:      opts,
		rng:       rand.New(rand.NewPCG(opts.Seed, 0x6e696d627573)),
		sandboxes: map[string]*sandbox{},
		fail503:   map[string]int{},
		nextPID:   1000001,
		inflight:  map[string]int{},
		maxFlight: map[string]int{},
	}
	s.api = &sandboxserver.Handler{
		BasePath:       opts.BasePath,
		Auth:           fakeAuth{s},
		RequiredScopes: opts.RequiredScopes,
		Profiles:       opts.Profiles,
		Backend:        backend{s},
		RPCMs:          func(time.Duration) int64 { return 3 },
		Fallback:       http.HandlerFunc(s.serveOther),
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close stops every fake process and the server, and returns once the
// processes' goroutines have finished.
func (s *Server) Close() {
	s.killAll()
	s.Server.Close()
	// No handler runs now, so no process starts: kill those started since
	// the first pass and wait for all (their goroutines take s.mu).
	for _, sb := range s.killAll() {
		sb.running.Wait()
	}
}

// killAll cancels every process and returns the sandboxes.
func (s *Server) killAll() []*sandbox {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*sandbox
	for _, sb := range s.sandboxes {
		for _, p := range sb.procs {
			p.cancel(errKilled{137, "server closed"})
		}
		all = append(all, sb)
	}
	return all
}

// Fail503 makes the next n requests for op answer 503
// E_NIMBUS_DO_OVERLOADED with Retry-After: 5.
func (s *Server) Fail503(op string, n int) {
	s.mu.Lock()
	s.fail503[op] = n
	s.mu.Unlock()
}

// SetTruncateStream toggles truncated exec streams.
func (s *Server) SetTruncateStream(v bool) {
	s.mu.Lock()
	s.opts.TruncateStream = v
	s.mu.Unlock()
}

// Requests returns a copy of the recorded requests.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Ops returns the op of every recorded rpc request, in order.
func (s *Server) Ops() []string {
	var ops []string
	for _, r := range s.Requests() {
		if r.Op != "" {
			ops = append(ops, r.Op)
		}
	}
	return ops
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	s.requests = nil
	s.mu.Unlock()
}

// File returns a file's content in the sandbox of DO name do.
func (s *Server) File(do, path string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sb := s.sandboxes[do]
	if sb == nil {
		return nil, false
	}
	n := sb.fs.get(cleanPath(path))
	if n == nil || n.dir {
		return nil, false
	}
	return append([]byte(nil), n.data...), true
}

// PutFile creates a file (and its parents) in the sandbox of DO name do.
func (s *Server) PutFile(do, path string, data []byte, mode uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sb := s.sandboxLocked(do, "/home/user")
	p := cleanPath(path)
	sb.fs.mkdirAll(parentOf(p), s.opts.Now())
	sb.fs.nodes[p] = &node{data: append([]byte(nil), data...), mode: mode, mtime: s.opts.Now()}
}

// Mode returns the permission bits of a path in the sandbox of DO name do.
func (s *Server) Mode(do, path string) (uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sb := s.sandboxes[do]
	if sb == nil {
		return 0, false
	}
	n := sb.fs.get(cleanPath(path))
	if n == nil {
		return 0, false
	}
	return n.mode & 0o7777, true
}

// Sandboxes returns the DO names that exist.
func (s *Server) Sandboxes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.sandboxes {
		out = append(out, k)
	}
	return out
}

// recorder wraps the response writer to capture the status. The request
// is recorded when the status is decided, before the answer can reach the
// client, so a client that saw an answer always finds its request recorded.
type recorder struct {
	http.ResponseWriter
	status int
	commit func(status int)
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
		r.commit(code)
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(p)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

const maxRecordedBody = 1 << 20

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := &Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Header: r.Header.Clone(), BodySize: int64(len(body))}
	if len(body) <= maxRecordedBody {
		rec.Body = body
	}
	rw := &recorder{ResponseWriter: w}
	rw.commit = func(status int) {
		rec.Status = status
		if s.opts.NoRecord {
			return
		}
		s.mu.Lock()
		s.requests = append(s.requests, *rec)
		s.mu.Unlock()
	}
	defer func() {
		if rw.status == 0 {
			rw.WriteHeader(http.StatusOK)
		}
	}()
	r.Body = io.NopCloser(bytes.NewReader(body))
	r = r.WithContext(context.WithValue(r.Context(), stateKey{}, &reqState{rec: rec, body: body}))
	if s.opts.Disabled {
		s.serveOther(rw, r)
		return
	}
	s.api.ServeHTTP(rw, r)
}

// stateKey and reqState carry a request's record and full body to the
// backend's hooks.
type stateKey struct{}

type reqState struct {
	rec  *Request
	body []byte
}

func stateOf(r *http.Request) *reqState { return r.Context().Value(stateKey{}).(*reqState) }

// serveOther answers what the API core leaves (all of /api/ when the
// remote API is disabled): /new, the session root, and 302 for the rest
// of /api/.
func (s *Server) serveOther(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	switch {
	case path == "/new":
		s.serveNew(w, r)
	case strings.HasPrefix(path, "/s/"):
		s.serveSessionRoot(w, r, path)
	case strings.HasPrefix(path, "/api/"):
		w.Header().Set("Location", "/")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusFound)
	default:
		http.NotFound(w, r)
	}
}

// authenticate extracts and verifies the token (pkg/token's bearer rules:
// Authorization header, nimbus_token query, __Host-nimbus_token cookie),
// then checks the required scopes and the sid pin; it returns the DO name
// prefix "<tn>:<sub or _>".
func (s *Server) authenticate(r *http.Request, sid string, scopes []string) (string, *Identity, *AuthError) {
	if s.opts.Verifier == nil {
		if s.opts.Legacy {
			return token.LegacyPublicPrefix, nil, nil
		}
		return "", nil, sandboxserver.NewError(http.StatusInternalServerError, token.CodeAuthConfigMissing, "Remote Nimbus sandbox API requires JWT_SECRET")
	}
	tok, err := token.ExtractBearer(r)
	if err != nil {
		return "", nil, sandboxserver.TokenError(err)
	}
	id, aerr := s.opts.Verifier.Verify(tok)
	if aerr != nil {
		return "", nil, aerr
	}
	if id.claims != nil {
		if aerr := sandboxserver.CheckClaims(*id.claims, sid, scopes); aerr != nil {
			return "", nil, aerr
		}
		return id.doPrefix, id, nil
	}
	if id.Scopes != nil {
		for _, want := range scopes {
			if !hasScope(id, want) {
				return "", nil, sandboxserver.NewError(http.StatusForbidden, "E_SCOPE_MISSING", "Missing required scope: "+want)
			}
		}
	}
	if sid != "" && id.SID != "" && id.SID != sid {
		return "", nil, sandboxserver.NewError(http.StatusForbidden, "E_SESSION_PIN_MISMATCH", `Token pinned to session "`+id.SID+`" but request targets "`+sid+`"`)
	}
	return token.DOInstanceName(id.Tenant, id.Subject), id, nil
}

// destroyAllowed applies the destroy op's extra scope rule.
func destroyAllowed(id *Identity) *AuthError {
	if id == nil {
		return nil
	}
	if id.claims != nil {
		return sandboxserver.TokenPrincipal{Claims: *id.claims}.AllowDestroy()
	}
	if id.Scopes != nil && !hasScope(id, "session:destroy") && !hasScope(id, "session:admin") {
		return sandboxserver.NewError(http.StatusForbidden, "E_SCOPE_MISSING", "Nimbus token missing required scope: session:destroy or session:admin")
	}
	return nil
}

// fakeAuth is the fake's Authenticator: its Verifier, static tokens,
// legacy mode.
type fakeAuth struct{ s *Server }

// Authenticate checks the request with the fake's verifier.
func (a fakeAuth) Authenticate(r *http.Request, id string, scopes []string) (sandboxserver.Principal, *sandboxserver.Error) {
	prefix, ident, aerr := a.s.authenticate(r, id, scopes)
	if aerr != nil {
		return nil, aerr
	}
	return principal{prefix, ident}, nil
}

// principal is a caller of the fake (ident nil in legacy mode).
type principal struct {
	prefix string
	ident  *Identity
}

// DOPrefix returns the DO instance name.
func (p principal) DOPrefix() string { return p.prefix }

// AllowDestroy applies destroy's scope rule.
func (p principal) AllowDestroy() *sandboxserver.Error { return destroyAllowed(p.ident) }

func hasScope(id *Identity, s string) bool {
	if id == nil || id.Scopes == nil {
		return true
	}
	for _, have := range id.Scopes {
		if have == s {
			return true
		}
	}
	return false
}

func (s *Server) serveNew(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if s.opts.Verifier != nil {
		_, id, aerr := s.authenticate(r, "", []string{"session:create"})
		if aerr != nil {
			if aerr.Status == 401 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="nimbus"`)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(aerr.Status)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": aerr.Message, "code": aerr.Code})
			return
		}
		s.mu.Lock()
		sid := friendlyID(s.rng)
		jti := s.hexLocked(16)
		s.mu.Unlock()
		boot := "bootstrap-" + jti
		if j, ok := s.opts.Verifier.(JWT); ok {
			t, err := j.bootstrapToken(id, sid, jti)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			boot = t
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Location", "/s/"+sid+"/?nimbus_token="+boot)
		w.WriteHeader(http.StatusFound)
		return
	}
	s.mu.Lock()
	sid := friendlyID(s.rng)
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", "/s/"+sid+"/")
	w.WriteHeader(http.StatusFound)
}

var adjectives = []string{"nimble", "brave", "quiet", "lucky", "sunny"}
var nouns = []string{"otter", "falcon", "maple", "comet", "badger"}

func friendlyID(r *rand.Rand) string {
	return adjectives[r.IntN(len(adjectives))] + "-" + nouns[r.IntN(len(nouns))] + "-" + itoa(1000+r.IntN(9000))
}

func (s *Server) hexLocked(n int) string {
	const hexdigits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = hexdigits[s.rng.IntN(16)]
	}
	return string(b)
}

func (s *Server) serveSessionRoot(w http.ResponseWriter, r *http.Request, path string) {
	rest := strings.TrimPrefix(path, "/s/")
	raw, tail, _ := strings.Cut(rest, "/")
	if tail != "" {
		http.NotFound(w, r)
		return
	}
	id, err := url.PathUnescape(raw)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!doctype html><title>nimbus</title><div id=terminal></div>")
		return
	case http.MethodDelete:
	default:
		w.Header().Set("Allow", "GET, HEAD, DELETE")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if s.opts.Disabled {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	s.api.ServeDestroy(w, r, id)
}
