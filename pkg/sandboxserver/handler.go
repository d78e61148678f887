package sandboxserver

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nimbus-sh/nimbus/internal/unreadbody"
)

// DefaultBasePath is the API mount point of a Worker.
const DefaultBasePath = "/api/nimbus/v1"

// Backend runs the operations of one server.
type Backend interface {
	// Op runs c.Op (never "destroy"). has says whether the op returns a
	// result (void ops answer {"ok":true}). Unknown ops answer UnknownOp.
	Op(ctx context.Context, c *Call) (result any, has bool, err *Error)
	// Destroy destroys the sandbox c.DO (the destroy op and DELETE
	// /s/<id>/); auth and destroy's scope rule have been applied.
	Destroy(r *http.Request, c *Call, reason string) (result any, err *Error)
}

// Streamer is implemented by backends that answer execStream themselves
// with StartStream and frames; handled false treats execStream as an
// ordinary op (a server without streaming).
type Streamer interface {
	// ExecStream answers c, an execStream call, itself: StartStream then
	// frames, or WriteFail for a failure found before the stream starts.
	// It returns false, having written nothing, to have the call passed
	// to Op instead.
	ExecStream(w http.ResponseWriter, r *http.Request, c *Call) (handled bool)
}

// Admitter is implemented by backends that decide, once a call is
// authenticated and before it runs (destroy included), whether to run it
// at all (a fake's fault injection, an overloaded server). release, when
// not nil, is called after the answer.
type Admitter interface {
	// Admit is called after the body decoded and before the op runs. A
	// non-nil err is answered as is and the op never runs; release, when
	// not nil, runs once the answer is written (to free a slot taken
	// here).
	Admit(r *http.Request, c *Call) (release func(), err *Error)
}

// Observer is implemented by backends that want to see every
// authenticated rpc request whose body decoded, before it is admitted
// (recording).
type Observer interface {
	// Decoded sees c once it is authenticated and decoded, before Admit,
	// whether or not the call is then admitted; it cannot change the
	// answer.
	Decoded(r *http.Request, c *Call)
}

// Handler is the http.Handler of the remote API. It answers
// POST <BasePath>/sandboxes/<id>/rpc (and its OPTIONS preflight) and
// DELETE /s/<id>[/], checking in this order: method, id rule, auth (from
// the headers alone), JSON body, then the op. Upstream reads the body
// before auth; here nobody without a token makes the server read, buffer
// or decode anything. Other paths go to Fallback.
type Handler struct {
	// BasePath is the API mount point, normalised with NormalizeBasePath.
	BasePath string
	// Auth checks credentials.
	Auth Authenticator
	// RequiredScopes are the scopes of the rpc and destroy routes.
	RequiredScopes []string
	// Profiles by name; "default" is the fallback.
	Profiles map[string]Profile
	// Backend runs ops.
	Backend Backend
	// MaxBody bounds a request body (413 beyond it, answered before
	// reading when Content-Length says so); 0 means no bound.
	MaxBody int64
	// RPCMs gives the diag timing from the time spent; nil means the
	// elapsed milliseconds.
	RPCMs func(elapsed time.Duration) int64
	// Fallback serves the other paths; nil answers 404.
	Fallback http.Handler
}

// NormalizeBasePath returns p with one leading slash and no trailing
// slash; "" (or "/") is DefaultBasePath.
func NormalizeBasePath(p string) string {
	p = "/" + strings.Trim(strings.TrimSpace(p), "/")
	if p == "/" {
		return DefaultBasePath
	}
	return p
}

// ServeHTTP routes the remote API.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The path is taken apart in functions of their own, so that their
	// frames are not on the stack while the rpc runs (see ServeRPC).
	if id, rpc, ok := h.rpcID(r); rpc {
		if !ok {
			http.NotFound(w, r)
			return
		}
		h.ServeRPC(w, r, id)
		return
	}
	h.serveOther(w, r)
}

// rpcID reports whether r is for an rpc path (rpc), and its sandbox id
// when the path is a valid one (ok).
func (h *Handler) rpcID(r *http.Request) (id string, rpc, ok bool) {
	p := r.URL.EscapedPath()
	prefix := h.BasePath + "/sandboxes/"
	if !strings.HasPrefix(p, prefix) || !strings.HasSuffix(p, "/rpc") {
		return "", false, false
	}
	raw := strings.TrimSuffix(strings.TrimPrefix(p, prefix), "/rpc")
	id, err := url.PathUnescape(raw)
	if raw == "" || strings.Contains(raw, "/") || err != nil {
		return "", true, false
	}
	return id, true, true
}

// serveOther serves what is not an rpc.
func (h *Handler) serveOther(w http.ResponseWriter, r *http.Request) {
	p := r.URL.EscapedPath()
	if rest, ok := strings.CutPrefix(p, "/s/"); ok && r.Method == http.MethodDelete {
		raw, tail, _ := strings.Cut(rest, "/")
		if id, err := url.PathUnescape(raw); err == nil && raw != "" && tail == "" {
			h.ServeDestroy(w, r, id)
			return
		}
	}
	if h.Fallback != nil {
		h.Fallback.ServeHTTP(w, r)
		return
	}
	http.NotFound(w, r)
}

func (h *Handler) profile(name string) Profile {
	if p, ok := h.Profiles[name]; ok {
		return p
	}
	return h.Profiles["default"]
}

func (h *Handler) authenticate(r *http.Request, c *Call) *Error {
	p, aerr := AuthenticateRequest(h.Auth, r, c.ID, h.RequiredScopes)
	if aerr != nil {
		return aerr
	}
	c.Principal = p
	c.DO = p.DOPrefix() + ":" + c.ID
	return nil
}

// ServeRPC answers one rpc request for sandbox id.
func (h *Handler) ServeRPC(w http.ResponseWriter, r *http.Request, id string) {
	// The request is read and checked in a function of its own, whose
	// frame is gone before the op runs: the op's path goes deep (on to
	// net/http writing the answer's header, a 3 KiB frame), and a
	// connection's goroutine keeps the stack its deepest request needed,
	// 16 KiB instead of 8 KiB once it crosses 8 KiB (docs/benchmarks.md).
	c, diag, aerr := h.decodeCall(w, r, id)
	if aerr != nil {
		WriteFail(w, aerr)
		return
	}
	if c != nil {
		h.runCall(w, r, c, diag)
	}
}

// decodeCall authenticates r and decodes its body into a Call, with the
// envelope's diag flag; an OPTIONS request is answered here (nil Call, nil
// error).
func (h *Handler) decodeCall(w http.ResponseWriter, r *http.Request, id string) (*Call, bool, *Error) {
	if r.Method == http.MethodOptions {
		// Answered without a token: a body sent with it is not read, and
		// must not hold the connection while the server would wait for it.
		unreadbody.RefuseRequest(w, r)
		APIHeaders(w.Header())
		w.WriteHeader(http.StatusNoContent)
		return nil, false, nil
	}
	if r.Method != http.MethodPost {
		return nil, false, NewError(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "Method not allowed")
	}
	if !ValidID(id) {
		return nil, false, NewError(http.StatusBadRequest, CodeSandboxID, "Invalid sandbox id")
	}
	c := &Call{ID: id, Request: r}
	// Credentials come from the headers: a request that cannot be
	// authenticated is answered before a byte of its body is read.
	if aerr := h.authenticate(r, c); aerr != nil {
		return nil, false, aerr
	}
	var body rpcEnvelope
	if aerr := h.readBody(w, r, &body); aerr != nil {
		return nil, false, aerr
	}
	c.Op, _ = body.op.(string)
	c.Args, _ = body.args.([]any)
	c.ProfileName, _ = body.profile.(string)
	if c.ProfileName == "" {
		c.ProfileName = "default"
	}
	c.Profile = h.profile(c.ProfileName)
	c.Root, _ = body.root.(string)
	if c.Root == "" {
		c.Root = c.Profile.Root
	}
	if c.Root == "" {
		c.Root = "/home/user"
	}
	diag, _ := body.diag.(bool)
	return c, diag, nil
}

// runCall runs the decoded call c and answers it.
func (h *Handler) runCall(w http.ResponseWriter, r *http.Request, c *Call, diag bool) {
	if o, ok := h.Backend.(Observer); ok {
		o.Decoded(r, c)
	}
	if a, ok := h.Backend.(Admitter); ok {
		release, aerr := a.Admit(r, c)
		if aerr != nil {
			WriteFail(w, aerr)
			return
		}
		if release != nil {
			defer release()
		}
	}
	start := time.Now()
	var result any
	var has bool
	var aerr *Error
	if c.Op == "destroy" {
		result, has, aerr = h.destroyCall(r, c)
	} else {
		if s, ok := h.Backend.(Streamer); ok && c.Op == "execStream" && s.ExecStream(w, r, c) {
			return
		}
		result, has, aerr = h.Backend.Op(r.Context(), c)
	}
	if aerr != nil {
		WriteFail(w, aerr)
		return
	}
	if !diag {
		WriteOK(w, result, has, nil)
		return
	}
	ms := time.Since(start).Milliseconds()
	if h.RPCMs != nil {
		ms = h.RPCMs(time.Since(start))
	}
	WriteOK(w, result, has, &ms)
}

// destroyCall is the destroy op, with the reason its argument gives.
func (h *Handler) destroyCall(r *http.Request, c *Call) (any, bool, *Error) {
	reason, _ := c.Obj(0)["reason"].(string)
	return h.destroy(r, c, reason)
}

func (h *Handler) destroy(r *http.Request, c *Call, reason string) (any, bool, *Error) {
	if aerr := c.Principal.AllowDestroy(); aerr != nil {
		return nil, false, aerr
	}
	res, aerr := h.Backend.Destroy(r, c, reason)
	return res, aerr == nil, aerr
}

// ServeDestroy answers DELETE /s/<id>/: the sandbox is destroyed with the
// reason of the X-Nimbus-Cleanup-Reason header.
func (h *Handler) ServeDestroy(w http.ResponseWriter, r *http.Request, id string) {
	if !ValidID(id) {
		WriteFail(w, NewError(http.StatusBadRequest, CodeSandboxID, "Invalid sandbox id"))
		return
	}
	c := &Call{ID: id, Request: r}
	if aerr := h.authenticate(r, c); aerr != nil {
		WriteFail(w, aerr)
		return
	}
	res, _, aerr := h.destroy(r, c, r.Header.Get("X-Nimbus-Cleanup-Reason"))
	if aerr != nil {
		WriteFail(w, aerr)
		return
	}
	WriteOK(w, res, true, nil)
}

// DestroyResult is destroy's answer: the reason is trimmed and cut to 200
// bytes, and null when empty.
func DestroyResult(killed int, at time.Time, reason string) map[string]any {
	reason = strings.TrimSpace(reason)
	if len(reason) > 200 {
		reason = reason[:200]
	}
	var rv any
	if reason != "" {
		rv = reason
	}
	return map[string]any{"ok": true, "killed": killed, "destroyedAt": at.UnixMilli(), "reason": rv}
}

var _ http.Handler = (*Handler)(nil)
var _ Authenticator = TokenAuth{}
