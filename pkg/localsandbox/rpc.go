package localsandbox

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxBody bounds a request body: a 20 MiB write in base64 plus envelope
// fits with room to spare; the platform's own limit is 100 MB.
const maxBody = 100 << 20

func (s *Server) serveRPC(w http.ResponseWriter, r *http.Request, id string) {
	if r.Method == http.MethodOptions {
		apiHeaders(w.Header())
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method != http.MethodPost {
		writeFail(w, &apiError{405, "E_METHOD_NOT_ALLOWED", "Method not allowed"})
		return
	}
	if !ValidID(id) {
		writeFail(w, &apiError{400, "E_SANDBOX_ID", "Invalid sandbox id"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		writeFail(w, &apiError{400, "E_BAD_JSON", "Invalid JSON body: " + err.Error()})
		return
	}
	if len(body) > maxBody {
		writeFail(w, &apiError{413, "E_BAD_JSON", "Invalid JSON body: larger than 100 MB"})
		return
	}
	obj, err := decodeBody(body)
	body = nil
	if err != nil {
		writeFail(w, &apiError{400, "E_BAD_JSON", "Invalid JSON body: " + err.Error()})
		return
	}
	v, aerr := s.authenticate(r, id, s.opts.RequiredScopes)
	if aerr != nil {
		writeFail(w, aerr)
		return
	}
	c := &call{do: v.DOInstanceName + ":" + id, id: id}
	c.op, _ = obj["op"].(string)
	c.args, _ = obj["args"].([]any)
	c.profile, _ = obj["profile"].(string)
	if c.profile == "" {
		c.profile = "default"
	}
	c.prof = s.profile(c.profile)
	c.root, _ = obj["root"].(string)
	if c.root == "" {
		c.root = c.prof.Root
	}
	if c.root == "" {
		c.root = "/home/user"
	}
	c.root = cleanPath(c.root)
	start := time.Now()
	if c.op == "destroy" {
		if aerr := destroyAllowed(v); aerr != nil {
			writeFail(w, aerr)
			return
		}
		reason, _ := c.obj(0)["reason"].(string)
		res, aerr := s.destroy(c.do, reason)
		if aerr != nil {
			writeFail(w, aerr)
			return
		}
		s.writeResult(w, obj, res, true, start)
		return
	}
	if !knownOps[c.op] {
		writeFail(w, &apiError{400, "E_REMOTE_OP", "Unknown Nimbus sandbox operation: " + c.op})
		return
	}
	sb, aerr := s.sandboxFor(c.do, id)
	if aerr != nil {
		writeFail(w, aerr)
		return
	}
	if c.op == "execStream" {
		sb.execStream(w, r, c)
		return
	}
	result, has, aerr := sb.dispatch(r.Context(), c)
	if aerr != nil {
		writeFail(w, aerr)
		return
	}
	s.writeResult(w, obj, result, has, start)
}

func (s *Server) writeResult(w http.ResponseWriter, req map[string]any, result any, has bool, start time.Time) {
	env := success{has: has, result: result}
	if diag, _ := req["diag"].(bool); diag {
		ms := time.Since(start).Milliseconds()
		env.RPCMs = &ms
	}
	writeJSON(w, http.StatusOK, env)
}

// knownOps are the operations this backend implements; anything else is
// E_REMOTE_OP, as on a Worker that does not know it. Apps
// (exposeApp, listApps, rotateLink, removeApp, ensureDurableApp,
// removeDurableApp) are not implemented locally.
var knownOps = map[string]bool{
	"ready": true, "bootProbe": true,
	"exec": true, "execStream": true, "runCode": true, "startProcess": true, "detachExec": true,
	"readFile": true, "readFileBytes": true, "writeFile": true, "stat": true, "lstat": true,
	"readlink": true, "readdir": true, "exists": true, "mkdir": true, "rename": true,
	"chmod": true, "readRange": true, "deleteFile": true,
	"listRuntimes": true, "installRuntime": true, "ensureRuntimes": true,
	"listProcesses": true, "processLogs": true, "killProcess": true, "signalProcess": true,
	"writeProcessInput": true, "endProcessInput": true, "resizeProcess": true,
	"listPorts": true, "exposePort": true, "unexposePort": true,
}

func (sb *sandbox) dispatch(ctx context.Context, c *call) (any, bool, *apiError) {
	switch c.op {
	case "ready":
		return sb.ready(ctx, c)
	case "bootProbe":
		return map[string]any{"ok": true}, true, nil
	case "exec", "runCode":
		return sb.execBuffered(ctx, c)
	case "detachExec":
		if _, err := c.str(0, "detachId"); err != nil {
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
		return sb.portOp(c)
	}
	return sb.fileOp(c)
}

// ready applies preinstalls: locally a runtime is "installed" when the host
// provides it.
func (sb *sandbox) ready(ctx context.Context, c *call) (any, bool, *apiError) {
	pre := []string{}
	if c.prof.Runtimes != nil && c.prof.Runtimes.Preinstall != nil {
		pre = append(pre, c.prof.Runtimes.Preinstall...)
	} else if l, ok := c.obj(0)["preinstall"].([]any); ok {
		for _, x := range l {
			if s, ok := x.(string); ok {
				pre = append(pre, s)
			}
		}
	}
	for _, p := range pre {
		if err := c.policy(p, "preinstall"); err != nil {
			return nil, false, err
		}
	}
	var failed []string
	for _, p := range pre {
		name, _, _ := strings.Cut(p, "@")
		if sb.s.hostRuntime(ctx, name) == nil {
			failed = append(failed, p+": "+notLocal(name))
		}
	}
	if len(failed) > 0 {
		return nil, false, rpcErr("runtime preinstall failed:\n" + strings.Join(failed, "\n"))
	}
	if err := sb.ensureDir(c.root); err != nil {
		return nil, false, err
	}
	out := make([]any, len(pre))
	for i, p := range pre {
		out[i] = p
	}
	return map[string]any{"ok": true, "preinstalled": out}, true, nil
}

// serveSession handles /s/<id>, /s/<id>/ (DELETE destroys) and the
// path-style port previews /s/<id>/port/<n>/….
func (s *Server) serveSession(w http.ResponseWriter, r *http.Request, rest string) {
	raw, tail, _ := strings.Cut(rest, "/")
	id, err := url.PathUnescape(raw)
	if err != nil || raw == "" {
		http.NotFound(w, r)
		return
	}
	if strings.HasPrefix(tail, "port/") {
		s.servePort(w, r, id, strings.TrimPrefix(tail, "port/"))
		return
	}
	if tail != "" {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = io.WriteString(w, "nimbus dev: local sandbox "+id+". There is no browser terminal locally; use `nimbus sandbox exec "+id+" -- COMMAND`.\n")
		return
	case http.MethodDelete:
	default:
		w.Header().Set("Allow", "GET, HEAD, DELETE")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if !ValidID(id) {
		writeFail(w, &apiError{400, "E_SANDBOX_ID", "Invalid sandbox id"})
		return
	}
	v, aerr := s.authenticate(r, id, s.opts.RequiredScopes)
	if aerr == nil {
		aerr = destroyAllowed(v)
	}
	if aerr != nil {
		writeFail(w, aerr)
		return
	}
	res, aerr := s.destroy(v.DOInstanceName+":"+id, r.Header.Get("X-Nimbus-Cleanup-Reason"))
	if aerr != nil {
		writeFail(w, aerr)
		return
	}
	writeJSON(w, http.StatusOK, success{has: true, result: res})
}
