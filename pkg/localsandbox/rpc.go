package localsandbox

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/nimbus-sh/nimbus/internal/jsjson"
	"github.com/nimbus-sh/nimbus/internal/unreadbody"
	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

// backend runs the ops of the remote API for the core handler.
type backend struct{ s *Server }

// Op runs every op but destroy and execStream. Sandbox paths are
// normalised here, once, so the root compares equal to cleaned paths.
func (b backend) Op(ctx context.Context, c *sandboxserver.Call) (any, bool, *sandboxserver.Error) {
	if !knownOp(c.Op) {
		return nil, false, sandboxserver.UnknownOp(c.Op)
	}
	c.Root = cleanRoot(c.Root)
	h, aerr := b.s.enter(ctx, c.DO, c.ID)
	if aerr != nil {
		return nil, false, aerr
	}
	defer h.leave()
	if waits(c) {
		var stop func()
		ctx, stop = h.context(ctx)
		defer stop()
	}
	res, has, aerr := h.sb.dispatch(ctx, c)
	if aerr != nil && h.destroyed() {
		return nil, false, sandboxserver.RPCError(c.Op + " failed: " + errSandboxDestroyed.Error())
	}
	return res, has, aerr
}

// cleanRoot normalises an absolute root; a relative one is kept as sent,
// so that the exec-family ops refuse it as the Worker's session refuses a
// relative cwd (execOpts) and ready does not make a directory for it.
func cleanRoot(root string) string {
	if strings.HasPrefix(root, "/") {
		return cleanPath(root)
	}
	return root
}

// waits reports whether op c may wait on something that a destroy or the
// client going away must interrupt (a command, a runtime probe, a port
// scan): it then runs with a context that a destroy cancels. The others
// are the ones dispatch runs without a context (file operations, process
// bookkeeping) and ready without preinstalls, so they do without one.
func waits(c *sandboxserver.Call) bool {
	if c.Op == "ready" {
		pre, _ := c.Obj(0)["preinstall"].([]any)
		return len(pre) > 0 || c.Profile.Runtimes != nil
	}
	return !noContextOps[c.Op]
}

// noContextOps are the ops dispatch runs without a context.
var noContextOps = map[string]bool{
	"bootProbe": true, "detachExec": true, "startProcess": true,
	"listProcesses": true, "processLogs": true, "killProcess": true, "signalProcess": true,
	"writeProcessInput": true, "endProcessInput": true, "resizeProcess": true,
	"readFile": true, "readFileBytes": true, "writeFile": true, "stat": true, "lstat": true,
	"readlink": true, "readdir": true, "exists": true, "mkdir": true, "rename": true,
	"chmod": true, "readRange": true, "deleteFile": true,
}

// ExecStream answers execStream with live frames.
func (b backend) ExecStream(w http.ResponseWriter, r *http.Request, c *sandboxserver.Call) bool {
	c.Root = cleanRoot(c.Root)
	h, aerr := b.s.enter(r.Context(), c.DO, c.ID)
	if aerr != nil {
		sandboxserver.WriteFail(w, aerr)
		return true
	}
	defer h.leave()
	ctx, stop := h.context(r.Context())
	defer stop()
	// ctx alone, not r.WithContext(ctx): that copy of the request would
	// sit in this frame (256 bytes) under the whole stream, on a stack
	// that is 8 KiB only while the stream's path fits in it.
	h.sb.execStream(ctx, w, c)
	return true
}

// Destroy removes the sandbox, loaded or not.
func (b backend) Destroy(_ *http.Request, c *sandboxserver.Call, reason string) (any, *sandboxserver.Error) {
	return b.s.destroy(c.DO, reason)
}

// knownOp reports whether this backend implements op; anything else is
// E_REMOTE_OP, as on a Worker that does not know it.
func knownOp(op string) bool {
	switch op {
	case "ready", "bootProbe", "exec", "execStream", "runCode", "startProcess",
		"detachExec", "readFile", "readFileBytes", "writeFile", "stat", "lstat",
		"readlink", "readdir", "exists", "mkdir", "rename", "chmod", "readRange",
		"deleteFile", "listRuntimes", "installRuntime", "ensureRuntimes",
		"listProcesses", "processLogs", "killProcess", "signalProcess",
		"writeProcessInput", "endProcessInput", "resizeProcess", "listPorts",
		"exposePort", "unexposePort", "listApps", "exposeApp", "rotateLink",
		"removeApp", "ensureDurableApp", "removeDurableApp":
		return true
	}
	return false
}

func (sb *sandbox) dispatch(ctx context.Context, c *sandboxserver.Call) (any, bool, *sandboxserver.Error) {
	switch c.Op {
	case "ready":
		return sb.ready(ctx, c)
	case "bootProbe":
		return map[string]any{"ok": true}, true, nil
	case "exec", "runCode":
		return sb.execBuffered(ctx, c)
	case "detachExec":
		if _, err := c.Str(0, "detachId"); err != nil {
			return nil, false, err
		}
		// Commands are never detached locally: the named shell is freed when
		// the command exits.
		return map[string]any{"detached": false}, true, nil
	case "startProcess":
		return sb.startProcess(c)
	case "listRuntimes", "installRuntime", "ensureRuntimes":
		return sb.runtimeOp(ctx, c)
	case "listProcesses", "processLogs", "killProcess", "signalProcess", "writeProcessInput", "endProcessInput", "resizeProcess":
		return sb.processOp(c)
	case "listPorts", "exposePort", "unexposePort":
		return sb.portOp(ctx, c)
	case "listApps", "exposeApp", "rotateLink", "removeApp", "ensureDurableApp", "removeDurableApp":
		return sb.appOp(withOrigin(ctx, c.Request), c)
	}
	return sb.fileOp(c)
}

// ready applies preinstalls: locally a runtime is "installed" when the host
// provides it.
func (sb *sandbox) ready(ctx context.Context, c *sandboxserver.Call) (any, bool, *sandboxserver.Error) {
	listed, aerr := c.Preinstalls()
	if aerr != nil {
		return nil, false, aerr
	}
	pre := sessionPreinstalls(listed)
	var failed []string
	for _, p := range pre {
		name, _, _ := strings.Cut(p, "@")
		if sb.s.hostRuntime(ctx, name) == nil {
			failed = append(failed, p+": "+notLocal(name))
		}
	}
	if len(failed) > 0 {
		return nil, false, sandboxserver.RPCError("runtime preinstall failed:\n" + strings.Join(failed, "\n"))
	}
	if strings.HasPrefix(c.Root, "/") {
		if err := sb.ensureRoot(c.Root); err != nil {
			return nil, false, err
		}
	}
	return readyResult{OK: true, Preinstalled: pre, Diagnostics: sb.s.diagnostics()}, true, nil
}

// sessionPreinstalls is the list the session installs, made from the one
// the dispatcher passed as the Worker's session makes it: repeated specs
// count once (compared as given), then each is trimmed and empty ones are
// dropped; trimmed specs that became equal both stay.
func sessionPreinstalls(listed []string) []string {
	seen := make(map[string]bool, len(listed))
	pre := make([]string, 0, len(listed))
	for _, p := range listed {
		if seen[p] {
			continue
		}
		seen[p] = true
		if p = jsjson.TrimSpace(p); p != "" {
			pre = append(pre, p)
		}
	}
	return pre
}

// readyResult is ready's answer, the fields in the order a map's sorted
// keys were. It writes its own JSON: ready is the op a client sends most
// often when it does nothing else.
type readyResult struct {
	Diagnostics  []string `json:"diagnostics,omitempty"`
	OK           bool     `json:"ok"`
	Preinstalled []string `json:"preinstalled"`
}

// AppendJSON appends r as encoding/json encodes it (strings as
// JSON.stringify writes them).
func (r readyResult) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	if len(r.Diagnostics) > 0 {
		b = appendStrings(append(b, `"diagnostics":`...), r.Diagnostics)
		b = append(b, ',')
	}
	b = strconv.AppendBool(append(b, `"ok":`...), r.OK)
	b = appendStrings(append(b, `,"preinstalled":`...), r.Preinstalled)
	return append(b, '}')
}

// appendStrings appends l as a JSON array (null when nil).
func appendStrings(b []byte, l []string) []byte {
	if l == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsjson.AppendQuote(b, s)
	}
	return append(b, ']')
}

// serveSession handles /s/<id>, /s/<id>/ (DELETE destroys), the
// path-style previews /s/<id>/port/<n>/… and /s/<id>/app/<name>/…, and
// /s/<id>/api/preview-url.
func (s *Server) serveSession(w http.ResponseWriter, r *http.Request, rest string) {
	raw, tail, _ := strings.Cut(rest, "/")
	id, err := url.PathUnescape(raw)
	if err != nil || raw == "" {
		http.NotFound(w, r)
		return
	}
	for _, kind := range []string{"port", "app"} {
		if rest, ok := strings.CutPrefix(tail, kind+"/"); ok {
			s.servePreview(w, r, id, kind, rest, false)
			return
		}
	}
	if tail == "ws" {
		s.serveTerminal(w, r, id)
		return
	}
	if tail == "api/preview-url" {
		s.servePreviewURL(w, r, id)
		return
	}
	if tail != "" {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		// Answered without a token: a body sent with it is not read, and
		// must not hold the connection while the server would wait for it.
		unreadbody.RefuseRequest(w, r)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = io.WriteString(w, "nimbus dev: local sandbox "+id+". There is no browser page locally; open its terminal with `nimbus session attach "+id+"`, or run commands with `nimbus sandbox exec "+id+" -- COMMAND`.\n")
		return
	case http.MethodDelete:
	default:
		w.Header().Set("Allow", "GET, HEAD, DELETE")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	s.api.ServeDestroy(w, r, id)
}
