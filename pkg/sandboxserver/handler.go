package sandboxserver

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"
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
	p := r.URL.EscapedPath()
	prefix := h.BasePath + "/sandboxes/"
	if strings.HasPrefix(p, prefix) && strings.HasSuffix(p, "/rpc") {
		raw := strings.TrimSuffix(strings.TrimPrefix(p, prefix), "/rpc")
		id, err := url.PathUnescape(raw)
		if raw == "" || strings.Contains(raw, "/") || err != nil {
			http.NotFound(w, r)
			return
		}
		h.ServeRPC(w, r, id)
		return
	}
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
	if r.Method == http.MethodOptions {
		APIHeaders(w.Header())
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method != http.MethodPost {
		WriteFail(w, NewError(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "Method not allowed"))
		return
	}
	if !ValidID(id) {
		WriteFail(w, NewError(http.StatusBadRequest, CodeSandboxID, "Invalid sandbox id"))
		return
	}
	c := &Call{ID: id, Request: r}
	// Credentials come from the headers: a request that cannot be
	// authenticated is answered before a byte of its body is read.
	if aerr := h.authenticate(r, c); aerr != nil {
		WriteFail(w, aerr)
		return
	}
	var body rpcEnvelope
	if aerr := h.readBody(w, r, &body); aerr != nil {
		WriteFail(w, aerr)
		return
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
		reason, _ := c.Obj(0)["reason"].(string)
		result, has, aerr = h.destroy(r, c, reason)
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
	var rpcMs *int64
	if diag {
		ms := time.Since(start).Milliseconds()
		if h.RPCMs != nil {
			ms = h.RPCMs(time.Since(start))
		}
		rpcMs = &ms
	}
	WriteOK(w, result, has, rpcMs)
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
