// Package sandboxtest serves the real local sandbox backend
// (pkg/localsandbox) over httptest for tests of the sandbox client and the
// CLI, behind a small middleware that injects the faults a deployment
// shows: 503 + Retry-After, a gateway's error page, split frames, streams
// cut before their exit frame or ended by an error frame, a Worker that
// predates execStream or ignores timeoutMs, a disabled remote API, a
// process whose output outruns the log ring between two polls. It also
// records every request, so tests can check what the client sent.
//
// There is no second implementation of the API here: every answer that is
// not an injected fault comes from the backend `nimbus dev` runs. Test
// packages using it call localsandbox.MaybeRunInit first thing in their
// TestMain, as the nimbus binary does in main, so commands run under the
// backend's init (in namespaces where Linux allows them).
package sandboxtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// DefaultSecret is the backend's JWT_SECRET when Options.Secret is "".
const DefaultSecret = "sandboxtest-secret-0123456789abcdef0123"

// Runtimes is a profile's runtime policy.
type Runtimes = localsandbox.Runtimes

// Profile is a server-side sandbox profile.
type Profile = localsandbox.Profile

// Options configure the backend and the faults.
type Options struct {
	// Secret is the backend's JWT_SECRET; "" means DefaultSecret.
	Secret string
	// PreviousSecret is JWT_SECRET_PREVIOUS.
	PreviousSecret string
	// NoSecret runs the backend without JWT_SECRET: every request answers
	// 500 E_AUTH_CONFIG_MISSING, as a Worker without the secret does.
	NoSecret bool
	// BasePath is the API mount point; "" means /api/nimbus/v1.
	BasePath string
	// Profiles by name; "default" is the fallback.
	Profiles map[string]Profile
	// ReadLimit bounds single reads; 0 means the backend's 28 MiB.
	ReadLimit int64
	// ProcessLogBytes is the log ring of each background process; 0
	// means the backend's 64 KiB. A small ring makes LoseLogs cheap.
	ProcessLogBytes int
	// Now is the clock of the backend and of Token; nil means time.Now.
	Now func() time.Time
	// HostEnv is the environment of the commands; nil means LANG=C and a
	// PATH of the stand-in interpreters (see StandIns) then /usr/local/bin,
	// /usr/bin and /bin.
	HostEnv []string

	// Disabled answers every /api/ path with 302 Location: / and DELETE
	// /s/<id>/ with 405, as a Worker without the remote API.
	Disabled bool
	// NoExecStream makes execStream an unknown op (servers before
	// 2026-09-28): 400 E_REMOTE_OP after the usual auth.
	NoExecStream bool
	// TruncateStream ends exec streams without their exit frame.
	TruncateStream bool
	// IgnoreTimeout drops timeoutMs from exec-family requests, like a
	// Worker that never reports the timeout.
	IgnoreTimeout bool
	// MaxPiece, when positive, writes exec stream bytes in pieces of 1 to
	// MaxPiece bytes with a flush after each, so clients see frames split
	// at any byte.
	MaxPiece int
	// Seed seeds the piece sizes.
	Seed uint64
	// ExecDelay holds exec-family requests back before they run.
	ExecDelay time.Duration
	// Delay holds requests for an op back before they run (to observe
	// concurrency with MaxInFlight).
	Delay map[string]time.Duration
	// NoRecord stops request recording (benchmarks).
	NoRecord bool
}

// Request is one recorded request.
type Request struct {
	// Method is the HTTP method, as received.
	Method string
	// Path is the escaped URL path, as received, so tests can check the
	// client's escaping.
	Path string
	// Query is the parsed query string.
	Query url.Values
	// Header is a copy of the request headers, Authorization included.
	Header http.Header
	// Body is the raw body (at most 1 MiB kept; BodySize is the full size).
	Body []byte
	// BodySize is the full body size in bytes, also when Body was not
	// kept.
	BodySize int64
	// Op is the body's "op", for rpc requests with a JSON body.
	Op string
	// Args is the body's raw "args" array, for the same requests.
	Args json.RawMessage
	// DO is the Durable Object name the request's token maps to ("" when
	// it has no valid token, or the request was refused for it).
	DO string
	// Status is the HTTP status the request was answered with; a request
	// is recorded once its status is written.
	Status int
}

// Server is a running backend with its fault middleware.
type Server struct {
	*httptest.Server
	// Backend is the real backend behind the middleware.
	Backend *localsandbox.Server

	opts    Options
	dataDir string
	binDir  string // the stand-ins, when outside dataDir
	auth    sandboxserver.TokenAuth
	scopes  []string

	mu         sync.Mutex
	rng        *rand.Rand
	requests   []Request
	fail503    map[string]int
	failGW     map[string]int
	errorFrame string
	inflight   map[string]int
	maxFlight  map[string]int
	lossy      map[string]*lossy // LoseLogs processes by sandbox id and pid
	served     []served          // Served's waits still to close
}

// served is a wait of Served.
type served struct {
	match func(Request) bool
	c     chan struct{}
}

// New starts a backend in a fresh data directory. Close it when done.
func New(opts Options) *Server {
	if opts.Secret == "" {
		opts.Secret = DefaultSecret
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	dataDir, err := os.MkdirTemp("", "sandboxtest-")
	if err != nil {
		panic("sandboxtest: " + err.Error())
	}
	isolation := localsandbox.IsolationAuto
	var binDir string
	if opts.HostEnv == nil {
		var hostPaths bool
		binDir, hostPaths = standInDir(dataDir)
		if hostPaths {
			isolation = localsandbox.IsolationHostPaths
		}
		opts.HostEnv = []string{"PATH=" + binDir + ":/usr/local/bin:/usr/bin:/bin", "LANG=C"}
	}
	secret := opts.Secret
	if opts.NoSecret {
		secret = ""
	}
	backend, err := localsandbox.New(localsandbox.Options{
		DataDir: filepath.Join(dataDir, "data"), Secret: secret, PreviousSecret: opts.PreviousSecret,
		BasePath: opts.BasePath, Profiles: opts.Profiles, HostEnv: opts.HostEnv,
		ReadLimit: opts.ReadLimit, Now: opts.Now, Isolation: isolation,
		ProcessLogBytes: opts.ProcessLogBytes,
	})
	if err != nil {
		panic("sandboxtest: " + err.Error())
	}
	s := &Server{
		Backend: backend,
		opts:    opts,
		dataDir: dataDir,
		binDir:  binDir,
		auth:    sandboxserver.TokenAuth{Secret: secret, Previous: opts.PreviousSecret, Now: opts.Now},
		scopes:  []string{token.ScopeSandboxUse},
		rng:     rand.New(rand.NewPCG(opts.Seed, 0x6e696d627573)),
		fail503: map[string]int{}, failGW: map[string]int{},
		inflight: map[string]int{}, maxFlight: map[string]int{},
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close stops the server, kills every process of the backend and removes
// its data.
func (s *Server) Close() {
	s.Server.Close()
	_ = s.Backend.Close()
	_ = os.RemoveAll(s.dataDir)
	if s.binDir != "" {
		_ = os.RemoveAll(s.binDir)
	}
}

// Secret returns the backend's JWT_SECRET.
func (s *Server) Secret() string { return s.opts.Secret }

// Identity is what a test token grants.
type Identity struct {
	// Tenant is the token's tn claim, the tenant whose Durable Objects
	// the token reaches; it must match token.IDPattern, or minting
	// panics.
	Tenant string
	// Subject is the token's sub claim, the user within the tenant; ""
	// leaves the claim out.
	Subject string
	// Scopes nil leaves the scopes claim out: full trust.
	Scopes []string
	// SID pins the token to one sandbox id when set.
	SID string
}

// Token mints a real token for id, signed with the backend's secret and
// valid for an hour from the backend's clock.
func (s *Server) Token(id Identity) string { return Mint(s.opts.Secret, s.opts.Now(), id) }

// Mint mints a real token for id signed with secret, issued at now and
// valid for an hour.
func Mint(secret string, now time.Time, id Identity) string {
	ttl := time.Hour
	in := token.Input{Tenant: &id.Tenant, Scopes: id.Scopes, TTL: &ttl}
	if id.Subject != "" {
		in.Subject = &id.Subject
	}
	if id.SID != "" {
		in.SessionID = &id.SID
	}
	tok, err := token.Issuer{Secret: secret, Now: func() time.Time { return now }}.Mint(in)
	if err != nil {
		panic("sandboxtest: " + err.Error())
	}
	return tok
}

// Fail503 makes the next n requests for op answer 503
// E_NIMBUS_DO_OVERLOADED with Retry-After: 5, after authentication, as an
// overloaded Durable Object does.
func (s *Server) Fail503(op string, n int) {
	s.mu.Lock()
	s.fail503[op] = n
	s.mu.Unlock()
}

// FailGateway makes the next n requests for op answer Cloudflare's 502 error
// page (HTML), as when the Worker crashed or could not be reached.
func (s *Server) FailGateway(op string, n int) {
	s.mu.Lock()
	s.failGW[op] = n
	s.mu.Unlock()
}

// SetTruncateStream toggles exec streams cut before their exit frame.
func (s *Server) SetTruncateStream(v bool) {
	s.mu.Lock()
	s.opts.TruncateStream = v
	s.mu.Unlock()
}

// SetErrorFrame makes exec streams end with an error frame carrying
// message instead of their exit frame ("" turns it off), as when the
// Worker fails or cancels the command.
func (s *Server) SetErrorFrame(message string) {
	s.mu.Lock()
	s.errorFrame = message
	s.mu.Unlock()
}

// MaxInFlight returns the most requests for op served at once.
func (s *Server) MaxInFlight(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxFlight[op]
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

// Served returns a channel closed once a request for which match is
// true is recorded (or already was): the backend has answered it (its
// status is written), so what it read is fixed. It is not closed when
// the server does not record (NoRecord).
func (s *Server) Served(match func(Request) bool) <-chan struct{} {
	c := make(chan struct{})
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.ContainsFunc(s.requests, match) {
		close(c)
		return c
	}
	s.served = append(s.served, served{match, c})
	return c
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	s.requests = nil
	s.mu.Unlock()
}

// File returns the content of a regular file in the sandbox of DO name do.
func (s *Server) File(do, path string) ([]byte, bool) {
	data, err := os.ReadFile(s.Backend.HostPath(do, path))
	return data, err == nil
}

// PutFile creates a file (and its parents) in the sandbox of DO name do,
// with permission bits mode.
func (s *Server) PutFile(do, path string, data []byte, mode uint32) {
	p := s.Backend.HostPath(do, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		panic("sandboxtest: " + err.Error())
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		panic("sandboxtest: " + err.Error())
	}
	if err := os.Chmod(p, os.FileMode(mode&0o7777)); err != nil {
		panic("sandboxtest: " + err.Error())
	}
}

// Mode returns the permission bits of a path in the sandbox of DO name do.
func (s *Server) Mode(do, path string) (uint32, bool) {
	fi, err := os.Lstat(s.Backend.HostPath(do, path))
	if err != nil {
		return 0, false
	}
	return uint32(fi.Mode().Perm()), true
}

// Sandboxes returns the DO names that have storage.
func (s *Server) Sandboxes() []string {
	entries, _ := os.ReadDir(filepath.Dir(s.Backend.SandboxDir("x:_:x")))
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// take consumes one injected failure of op from m.
func (s *Server) take(m map[string]int, op string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m[op] > 0 {
		m[op]--
		return true
	}
	return false
}

// track counts op as in flight until the returned func is called.
func (s *Server) track(op string) func() {
	s.mu.Lock()
	s.inflight[op]++
	s.maxFlight[op] = max(s.maxFlight[op], s.inflight[op])
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.inflight[op]--
		s.mu.Unlock()
	}
}

const maxRecordedBody = 1 << 20

// execOps run a command: ExecDelay and IgnoreTimeout apply to them.
var execOps = map[string]bool{"exec": true, "execStream": true, "runCode": true, "startProcess": true}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := &Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Header: r.Header.Clone(), BodySize: int64(len(body))}
	if len(body) <= maxRecordedBody {
		rec.Body = body
	}
	id, rpc := s.route(r)
	if rpc {
		var call struct {
			Op   string          `json:"op"`
			Args json.RawMessage `json:"args"`
		}
		if json.Unmarshal(body, &call) == nil {
			rec.Op, rec.Args = call.Op, call.Args
		}
	}
	if id != "" {
		if tok, err := token.ExtractBearer(r); err == nil {
			if v, err := (token.Verifier{Secret: s.opts.Secret, Previous: s.opts.PreviousSecret, Now: s.opts.Now}).Verify(tok); err == nil {
				rec.DO = v.DOInstanceName + ":" + id
			}
		}
	}
	rw := &recorder{ResponseWriter: w}
	rw.commit = func(status int) {
		rec.Status = status
		if status == http.StatusUnauthorized || status == http.StatusForbidden {
			rec.DO = ""
		}
		if s.opts.NoRecord {
			return
		}
		s.mu.Lock()
		s.requests = append(s.requests, *rec)
		s.served = slices.DeleteFunc(s.served, func(w served) bool {
			if w.match(*rec) {
				close(w.c)
				return true
			}
			return false
		})
		s.mu.Unlock()
	}
	defer func() {
		if rw.status == 0 {
			rw.WriteHeader(http.StatusOK)
		}
	}()
	r.Body = io.NopCloser(bytes.NewReader(body))
	path := r.URL.EscapedPath()

	if s.opts.Disabled && (strings.HasPrefix(path, "/api/") || r.Method == http.MethodDelete && strings.HasPrefix(path, "/s/")) {
		if r.Method == http.MethodDelete {
			rw.Header().Set("Allow", "GET, HEAD")
			http.Error(rw, "Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		rw.Header().Set("Location", "/")
		rw.Header().Set("Cache-Control", "no-store")
		rw.WriteHeader(http.StatusFound)
		return
	}
	op := rec.Op
	if op == "" {
		s.pass(rw, r)
		return
	}
	if s.take(s.failGW, op) {
		rw.Header().Set("Content-Type", "text/html; charset=UTF-8")
		rw.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(rw, gatewayPage)
		return
	}
	release := s.track(op)
	defer release()
	wait := s.opts.Delay[op]
	if execOps[op] {
		wait += s.opts.ExecDelay
	}
	if wait > 0 {
		select {
		case <-time.After(wait):
		case <-r.Context().Done():
			return
		}
	}
	s.mu.Lock()
	overload := s.fail503[op] > 0
	s.mu.Unlock()
	if overload || op == "execStream" && s.opts.NoExecStream {
		// Both come from past the Worker's auth, which runs first; a
		// refused request does not use up an injected 503.
		if !sandboxserver.ValidID(id) {
			s.pass(rw, r)
			return
		}
		if _, aerr := s.auth.Authenticate(r, id, s.scopes); aerr != nil {
			sandboxserver.WriteFail(rw, aerr)
			return
		}
		switch {
		case overload && s.take(s.fail503, op):
			sandboxserver.WriteFail(rw, sandboxserver.NewError(http.StatusServiceUnavailable, sandboxserver.CodeOverloaded, "Durable Object is overloaded."))
			return
		case op == "execStream" && s.opts.NoExecStream:
			sandboxserver.WriteFail(rw, sandboxserver.UnknownOp(op))
			return
		}
	}
	if s.opts.IgnoreTimeout && execOps[op] {
		r.Body = io.NopCloser(bytes.NewReader(dropTimeout(body)))
		r.ContentLength = -1
	}
	if op == "execStream" {
		s.mu.Lock()
		errFrame, trunc := s.errorFrame, s.opts.TruncateStream
		s.mu.Unlock()
		if errFrame != "" || trunc || s.opts.MaxPiece > 0 {
			fw := &frameWriter{recorder: rw, s: s, errorFrame: errFrame, truncate: trunc}
			s.Backend.ServeHTTP(fw, r)
			fw.Flush()
			return
		}
	}
	if op == "processLogs" && !s.loseLogs(rw, id, rec.Args) {
		return
	}
	s.pass(rw, r)
}

// pass hands the request to the backend.
func (s *Server) pass(w http.ResponseWriter, r *http.Request) {
	s.Backend.ServeHTTP(w, r)
}

// route returns the sandbox id a request targets and whether it is an rpc.
func (s *Server) route(r *http.Request) (id string, rpc bool) {
	p := r.URL.EscapedPath()
	prefix := sandboxserver.NormalizeBasePath(s.opts.BasePath) + "/sandboxes/"
	if rest, ok := strings.CutPrefix(p, prefix); ok {
		if raw, ok := strings.CutSuffix(rest, "/rpc"); ok && !strings.Contains(raw, "/") {
			id, _ = url.PathUnescape(raw)
			return id, true
		}
	}
	if rest, ok := strings.CutPrefix(p, "/s/"); ok && r.Method == http.MethodDelete {
		raw, tail, _ := strings.Cut(rest, "/")
		if tail == "" {
			id, _ = url.PathUnescape(raw)
		}
	}
	return id, false
}

// dropTimeout removes timeoutMs from an exec-family request body.
func dropTimeout(body []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var call map[string]any
	if dec.Decode(&call) != nil {
		return body
	}
	args, _ := call["args"].([]any)
	if len(args) > 1 {
		if o, ok := args[1].(map[string]any); ok {
			delete(o, "timeoutMs")
		}
	}
	out, err := json.Marshal(call)
	if err != nil {
		return body
	}
	return out
}

// recorder captures the status. The request is recorded when the status
// is decided, before the answer can reach the client, so a client that
// saw an answer always finds its request recorded.
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

// FlushError delivers what was written (http.ResponseController uses it).
func (r *recorder) FlushError() error {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(r.ResponseWriter).Flush()
}

// Flush is FlushError for http.Flusher.
func (r *recorder) Flush() { _ = r.FlushError() }

// Unwrap lets http.ResponseController reach the connection (deadlines).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// frameWriter sits between the backend and the client on an exec stream:
// it parses the frames the backend writes and passes them on, in random
// small pieces when MaxPiece is set, replacing the final exit frame with
// an error frame or dropping it as the faults ask.
type frameWriter struct {
	*recorder
	s          *Server
	errorFrame string
	truncate   bool

	mu     sync.Mutex
	stream bool   // the answer is an exec stream (not a JSON refusal)
	buf    []byte // bytes of an incomplete frame
	done   bool   // the final frame went (or was dropped)
}

func (f *frameWriter) WriteHeader(code int) {
	f.stream = strings.HasPrefix(f.Header().Get("Content-Type"), sandboxserver.StreamContentType)
	f.recorder.WriteHeader(code)
}

func (f *frameWriter) Write(p []byte) (int, error) {
	if f.status == 0 {
		f.WriteHeader(http.StatusOK)
	}
	if !f.stream {
		return f.recorder.Write(p)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.buf = append(f.buf, p...)
	for !f.done && len(f.buf) >= 5 {
		n := 5 + int(uint32(f.buf[1])<<24|uint32(f.buf[2])<<16|uint32(f.buf[3])<<8|uint32(f.buf[4]))
		if len(f.buf) < n {
			break
		}
		frame := f.buf[:n]
		switch kind := frame[0]; {
		case kind == sandboxserver.FrameExit && f.truncate:
			f.done = true
		case kind == sandboxserver.FrameExit && f.errorFrame != "":
			f.done = true
			frame, err := sandboxserver.AppendFrame(nil, sandboxserver.FrameError, sandboxserver.ErrorPayload(f.errorFrame))
			if err != nil {
				return 0, err
			}
			if err := f.send(frame); err != nil {
				return 0, err
			}
		default:
			f.done = kind == sandboxserver.FrameExit || kind == sandboxserver.FrameError
			if err := f.send(frame); err != nil {
				return 0, err
			}
		}
		f.buf = append(f.buf[:0], f.buf[n:]...)
	}
	return len(p), nil
}

// send writes a frame, split when MaxPiece is set.
func (f *frameWriter) send(frame []byte) error {
	if f.s.opts.MaxPiece <= 0 {
		_, err := f.recorder.Write(frame)
		return err
	}
	for len(frame) > 0 {
		f.s.mu.Lock()
		n := 1 + f.s.rng.IntN(f.s.opts.MaxPiece)
		f.s.mu.Unlock()
		n = min(n, len(frame))
		if _, err := f.recorder.Write(frame[:n]); err != nil {
			return err
		}
		if err := f.recorder.FlushError(); err != nil {
			return err
		}
		frame = frame[n:]
	}
	return nil
}

// FlushError delivers the complete frames written so far.
func (f *frameWriter) FlushError() error { return f.recorder.FlushError() }

// Flush is FlushError for http.Flusher.
func (f *frameWriter) Flush() { _ = f.FlushError() }

// standInDir writes the stand-in interpreters where the backend's
// commands can run them, in whichever isolation it uses. In namespaces
// /tmp and /home are the sandbox's own, so a directory under the usual
// temporary directory is invisible to commands: /var/tmp is visible in
// every mode. Where it cannot hold runnable programs the stand-ins go in
// the data directory and hostPaths says the backend must then run with
// host paths.
func standInDir(dataDir string) (dir string, hostPaths bool) {
	if d, err := os.MkdirTemp("/var/tmp", "sandboxtest-bin-"); err == nil {
		if writeStandIns(d) == nil && exec.Command(filepath.Join(d, "python3"), "--version").Run() == nil {
			return d, false
		}
		_ = os.RemoveAll(d)
	}
	dir = filepath.Join(dataDir, "bin")
	if err := writeStandIns(dir); err != nil {
		panic("sandboxtest: " + err.Error())
	}
	return dir, true
}

// writeStandIns writes stand-in interpreters for python (python3) and
// ruby: the backend offers the host's runtimes, and a test must not
// depend on what the host has installed. A stand-in runs -c/-e code with
// /bin/sh and answers --version; tests of the runtime plumbing (profiles,
// lookups, output and exit codes) use shell code in them. The backend's
// own tests run the real interpreters where the host has them.
func writeStandIns(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// The versions are those the tests' specs name (python@3.12.7,
	// python@3.12): the backend installs a versioned spec only when the
	// host's runtime is that version.
	for name, version := range map[string]string{"python3": "3.12.7", "ruby": "3.4.1"} {
		script := fmt.Sprintf(`#!/bin/sh
# sandboxtest stand-in for %s: runs -c/-e code with /bin/sh.
case "$1" in
--version) echo "%s %s-sandboxtest" ;;
-c|-e) shift; exec /bin/sh -c "$@" ;;
*) exec /bin/sh "$@" ;;
esac
`, name, name, version)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// gatewayPage is the body of an injected gateway failure: the shape of
// Cloudflare's 502 page.
const gatewayPage = `<!DOCTYPE html>
<html lang="en-US"><head><title>127.0.0.1 | 502: Bad gateway</title></head>
<body><div id="cf-error-details"><h1>Bad gateway <span>Error code 502</span></h1>
<p>The web server reported a bad gateway error.</p></div></body></html>
`
