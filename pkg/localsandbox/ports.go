package localsandbox

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// portEntry is an exposed port.
type portEntry struct {
	port         int
	registeredAt int64
	capability   string
	visibility   string
	name         any
}

func newCapability() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// listening reports whether something accepts connections on the port.
func listening(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 200*time.Millisecond)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

func portArg(c *sandboxserver.Call, i int) (int, *sandboxserver.Error) {
	f, aerr := c.Num(i, "port")
	if aerr != nil {
		return 0, aerr
	}
	if f != float64(int(f)) || f < 1 || f > 65535 {
		return 0, sandboxserver.RPCError("Invalid port: " + strconv.FormatFloat(f, 'f', -1, 64))
	}
	return int(f), nil
}

func (sb *sandbox) portOp(c *sandboxserver.Call) (any, bool, *sandboxserver.Error) {
	switch c.Op {
	case "listPorts":
		sb.mu.Lock()
		out := make([]any, 0, len(sb.ports))
		for _, e := range sb.ports {
			out = append(out, map[string]any{"port": e.port, "pid": 0, "registeredAt": e.registeredAt, "capability": e.capability})
		}
		sb.mu.Unlock()
		sort.Slice(out, func(i, j int) bool {
			return out[i].(map[string]any)["port"].(int) < out[j].(map[string]any)["port"].(int)
		})
		return out, true, nil
	case "exposePort":
		port, aerr := portArg(c, 0)
		if aerr != nil {
			return nil, false, aerr
		}
		if sb.s.opts.NoBackground {
			return nil, false, sandboxserver.RPCError("port previews are not available with this backend: " + sb.s.opts.NoBackgroundHint)
		}
		o := c.Obj(1)
		vis := "scoped"
		if o["visibility"] == "public" {
			vis = "public"
		}
		var name any
		if n, ok := o["name"].(string); ok && n != "" {
			name = n
		}
		sb.mu.Lock()
		e := sb.ports[port]
		if e == nil {
			e = &portEntry{port: port, registeredAt: sb.s.nowMs(), capability: newCapability()}
			sb.ports[port] = e
		}
		e.visibility, e.name = vis, name
		res := map[string]any{"port": port, "pid": nil, "registeredAt": e.registeredAt, "capability": e.capability, "visibility": vis, "owner": nil, "name": name}
		sb.mu.Unlock()
		res["listening"] = listening(port)
		return res, true, nil
	default: // unexposePort
		port, aerr := portArg(c, 0)
		if aerr != nil {
			return nil, false, aerr
		}
		sb.mu.Lock()
		_, ok := sb.ports[port]
		delete(sb.ports, port)
		sb.mu.Unlock()
		return map[string]any{"port": port, "ok": ok}, true, nil
	}
}

// servePort reverse-proxies /s/<id>/port/<n>/<rest> to 127.0.0.1:<n>/<rest>
// for a port the sandbox exposed. Like a Worker's session routes it needs
// a session:attach token pinned (when pinned) to the sandbox; the token is
// taken from the Authorization header, the nimbus_token query (which then
// sets the preview cookie, so a browser can load the page's other
// resources) or the preview cookie, and is never forwarded to the app.
func (s *Server) servePort(w http.ResponseWriter, r *http.Request, id, rest string) {
	ps, tail, hasSlash := strings.Cut(rest, "/")
	if !ValidID(id) {
		writePlainFail(w, sandboxserver.NewError(400, "E_SANDBOX_ID", "Invalid sandbox id"))
		return
	}
	n, err := strconv.Atoi(ps)
	if ps == "" || ps[0] == '0' || len(ps) > 5 || err != nil || n < 1 || n > 65535 || strings.ContainsAny(ps, "+-") {
		writePlainFail(w, sandboxserver.NewError(400, "E_ARG_SHAPE", "Invalid port"))
		return
	}
	p, aerr := s.auth.Authenticate(previewAuthRequest(r), id, []string{token.ScopeSessionAttach})
	if aerr != nil {
		writePlainFail(w, aerr)
		return
	}
	s.mu.Lock()
	sb := s.sandboxes[p.DOPrefix()+":"+id]
	s.mu.Unlock()
	exposed := false
	if sb != nil {
		sb.mu.Lock()
		_, exposed = sb.ports[n]
		sb.mu.Unlock()
	}
	if !exposed {
		writePlainFail(w, sandboxserver.NewError(404, "E_PORT_NOT_EXPOSED", "port "+ps+" is not exposed by sandbox "+id+" (nimbus sandbox ports expose "+id+" "+ps+")"))
		return
	}
	q := r.URL.Query()
	if tok := q.Get(token.QueryParam); tok != "" {
		if ck := s.previewCookie(r, p, id); ck != nil {
			http.SetCookie(w, ck)
		}
	}
	if !hasSlash {
		u := "/s/" + url.PathEscape(id) + "/port/" + ps + "/"
		q.Del(token.QueryParam)
		if enc := q.Encode(); enc != "" {
			u += "?" + enc
		}
		http.Redirect(w, r, u, http.StatusMovedPermanently)
		return
	}
	target := &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", ps)}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.URL.Path = "/" + tail
			pr.Out.URL.RawPath = ""
			oq := pr.Out.URL.Query()
			oq.Del(token.QueryParam)
			pr.Out.URL.RawQuery = oq.Encode()
			pr.Out.Header.Del("Authorization")
			stripCookie(pr.Out.Header, token.CookieName)
			stripCookie(pr.Out.Header, PreviewCookie)
			pr.SetXForwarded()
			pr.Out.Header.Set("X-Forwarded-Prefix", "/s/"+url.PathEscape(id)+"/port/"+ps)
		},
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			writePlainFail(w, sandboxserver.NewError(502, "E_PORT_UNREACHABLE", "nothing answers on port "+ps+" in sandbox "+id))
		},
	}
	proxy.ServeHTTP(w, r)
}

// stripCookie removes one cookie from the Cookie headers.
func stripCookie(h http.Header, name string) {
	var keep []string
	for _, line := range h.Values("Cookie") {
		for piece := range strings.SplitSeq(line, ";") {
			k, _, _ := strings.Cut(strings.TrimSpace(piece), "=")
			if k != name && strings.TrimSpace(piece) != "" {
				keep = append(keep, strings.TrimSpace(piece))
			}
		}
	}
	h.Del("Cookie")
	if len(keep) > 0 {
		h.Set("Cookie", strings.Join(keep, "; "))
	}
}
