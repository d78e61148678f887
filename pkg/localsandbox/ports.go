package localsandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-sh/nimbus/internal/localhost"
	"github.com/nimbus-sh/nimbus/internal/portnum"
	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

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

func (sb *sandbox) portOp(ctx context.Context, c *sandboxserver.Call) (any, bool, *sandboxserver.Error) {
	switch c.Op {
	case "listPorts":
		// The ports the sandbox's processes listen on, as a Worker lists its
		// registrations, and the exposed ones (pid 0 while nothing serves).
		ls := sb.listeners(ctx)
		t := sb.lockApps()
		out := make([]any, 0, len(t.byPort)+len(ls))
		for _, e := range t.byPort {
			m := map[string]any{"port": e.Port, "pid": 0, "registeredAt": e.RegisteredAt, "capability": e.Capability}
			if p := ls[e.Port]; p != nil {
				m["pid"] = p.pid
				if p.execID != "" {
					m["execId"] = p.execID
				}
			}
			out = append(out, m)
		}
		for port, p := range ls {
			if t.byPort[port] != nil {
				continue
			}
			r := sb.liveRegLocked(t, port, p)
			m := map[string]any{"port": port, "pid": p.pid, "registeredAt": r.registeredAt, "capability": r.capability}
			if p.execID != "" {
				m["execId"] = p.execID
			}
			out = append(out, m)
		}
		t.mu.Unlock()
		sort.Slice(out, func(i, j int) bool {
			return out[i].(map[string]any)["port"].(int) < out[j].(map[string]any)["port"].(int)
		})
		return out, true, nil
	case "exposePort":
		port, aerr := portArg(c, 0)
		if aerr != nil {
			return nil, false, aerr
		}
		o, aerr := c.ExposeOptions(1)
		if aerr != nil {
			return nil, false, aerr
		}
		if sb.s.opts.NoBackground {
			return nil, false, sandboxserver.RPCError("port previews are not available with this backend: " + sb.s.opts.NoBackgroundHint)
		}
		ls := sb.listeners(ctx)
		live := ls[port]
		// A port served by a known process is that process's app, as a
		// Worker stamps the exposure with the occupant's identity.
		owner := ""
		if live != nil {
			owner = live.owner()
		}
		t := sb.lockApps()
		if e := t.byPort[port]; e != nil && e.Owner != "" {
			owner = e.Owner
		}
		e, aerr := sb.applyExposure(t, port, owner, o)
		if aerr != nil {
			t.mu.Unlock()
			return nil, false, aerr
		}
		res := map[string]any{"port": port, "pid": nil, "registeredAt": e.RegisteredAt, "capability": e.Capability,
			"visibility": e.Visibility, "owner": nullable(e.Owner), "name": nullable(e.Name)}
		t.mu.Unlock()
		if live != nil {
			res["pid"] = live.pid
			if live.execID != "" {
				res["execId"] = live.execID
			}
		}
		res["listening"] = live != nil || listening(port)
		return res, true, nil
	default: // unexposePort
		port, aerr := portArg(c, 0)
		if aerr != nil {
			return nil, false, aerr
		}
		t := sb.lockApps()
		defer t.mu.Unlock()
		_, ok := t.byPort[port]
		if ok {
			delete(t.byPort, port)
			if aerr := sb.saveAppsLocked(); aerr != nil {
				return nil, false, aerr
			}
		}
		return map[string]any{"port": port, "ok": ok}, true, nil
	}
}

// servePreview serves the preview doors: /s/<id>/port/<n>/<rest> for a
// port the sandbox exposed and /s/<id>/app/<name>/<rest> for a named app,
// and the preview hosts <n>--<id>.localhost and <name>--<id>.localhost
// (onHost; rest is then the label and the request's path), all
// reverse-proxied to 127.0.0.1:<port>/<rest>. Like a Worker's session
// routes they need a session:attach token pinned (when pinned) to the
// sandbox; the token is taken from the Authorization header, the
// nimbus_token query (which then sets the preview cookie, so a browser can
// load the page's other resources; on a preview host it may also be the
// single-use token of /s/<id>/api/preview-url) or the preview cookie, and
// is never forwarded to the app. kind is "port" or "app".
//
// A path door of a request that came to a loopback name takes no cookie:
// its pages would share the API's origin, and every other sandbox's doors,
// so the cookie of one sandbox would act for any sandbox's page. A browser
// navigating to it is sent to the preview host, token and all.
func (s *Server) servePreview(w http.ResponseWriter, r *http.Request, id, kind, rest string, onHost bool) {
	label, tail, hasSlash := strings.Cut(rest, "/")
	if !ValidID(id) {
		writePlainFail(w, sandboxserver.NewError(400, "E_SANDBOX_ID", "Invalid sandbox id"))
		return
	}
	n := 0
	if kind == "port" {
		var err error
		n, err = portnum.Parse(label, 1)
		if err != nil {
			writePlainFail(w, sandboxserver.NewError(400, "E_ARG_SHAPE", "Invalid port"))
			return
		}
	} else if !sandboxserver.ValidAppName(label) {
		writePlainFail(w, sandboxserver.NewError(400, "E_ARG_SHAPE", "Invalid app name"))
		return
	}
	navigate := r.Header.Get("Sec-Fetch-Mode") == "navigate" && (r.Method == http.MethodGet || r.Method == http.MethodHead)
	hostBase := ""
	if !onHost {
		hostBase = previewHostBase(r, id, label)
	}
	if hostBase != "" && navigate && r.Header.Get("Authorization") == "" {
		// The same page on the preview host, the query (a token
		// included, exchanged there) as it came.
		u := hostBase + "/" + tail
		if r.URL.RawQuery != "" {
			u += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", u)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusFound)
		return
	}
	ar, fromCookie := previewAuthRequest(r, onHost || !localhost.Is(r.Host))
	var p sandboxserver.Principal
	var aerr *sandboxserver.Error
	// link is the single-use token this request took: spent only when
	// the request reaches the app (or sets the cookie that carries on in
	// its place), given back when it is refused before.
	var link linkUse
	if onHost && !fromCookie && queryToken(r) {
		p, link, aerr = s.exchange(ar, id, kind, label)
		if aerr != nil && aerr.Code == token.CodeBootstrapConsumed {
			// A reload of the page a single-use link opened: a link
			// followed from another site is served at once, its token
			// left in the address bar, and the cookie it set is what
			// the browser now sends beside the spent token.
			if cp, ok := s.cookieInstead(r, id); ok {
				p, aerr, fromCookie = cp, nil, true
			}
		}
	} else {
		p, aerr = s.auth.Authenticate(ar, id, []string{token.ScopeSessionAttach})
	}
	if aerr != nil {
		writePlainFail(w, aerr)
		return
	}
	if fromCookie {
		if aerr := previewCrossOrigin(r); aerr != nil {
			writePlainFail(w, aerr)
			return
		}
	}
	if sb := s.existingSandbox(p.DOPrefix()+":"+id, id); sb != nil {
		t := sb.lockApps()
		if kind == "port" {
			if t.byPort[n] == nil {
				n = 0
			}
		} else if e := t.byName(label); e != nil {
			n = e.Port
		} else {
			n = 0
		}
		t.mu.Unlock()
	} else {
		n = 0
	}
	if n == 0 {
		note := s.giveBack(link)
		if kind == "port" {
			writePlainFail(w, sandboxserver.NewError(404, "E_PORT_NOT_EXPOSED", "port "+label+" is not exposed by sandbox "+id+" (nimbus sandbox ports expose "+id+" "+label+")"+note))
		} else {
			writePlainFail(w, sandboxserver.NewError(404, "E_APP_NOT_FOUND", "no app named '"+label+"' in sandbox "+id+" (name one: nimbus sandbox ports expose "+id+" "+label+")"+note))
		}
		return
	}
	door, cookiePath := "/s/"+url.PathEscape(id)+"/"+kind+"/"+label, "/s/"+url.PathEscape(id)+"/"
	if onHost {
		door, cookiePath = "", "/"
	}
	q := r.URL.Query()
	cookieSet := false
	if tok := q.Get(token.QueryParam); tok != "" && (onHost || !localhost.Is(r.Host)) {
		if ck := s.previewCookie(r, p, id, cookiePath, link.jti != ""); ck != nil {
			http.SetCookie(w, ck)
			cookieSet = true
		}
	}
	// A browser that opened a link with a token goes on at the clean URL,
	// as the Worker's attach exchange answers: the token would otherwise
	// stay in the address bar and the history, and be the Referer of
	// every resource the page loads. Other clients get the page at once,
	// and so does a link followed from another site: the redirected
	// request would still count as cross-site, and the browser would not
	// send it the SameSite=Strict cookie.
	navigate = navigate && r.Header.Get("Sec-Fetch-Site") != "cross-site"
	if !hasSlash {
		u := door + "/"
		q.Del(token.QueryParam)
		if enc := q.Encode(); enc != "" {
			u += "?" + enc
		}
		http.Redirect(w, r, u, http.StatusMovedPermanently)
		return
	}
	if cookieSet && navigate {
		u := door + "/" + tail
		if rq, _ := withoutToken("?" + r.URL.RawQuery); rq != "?" {
			u += rq
		}
		w.Header().Set("Location", u)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusFound)
		return
	}
	ps := strconv.Itoa(n)
	target := &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", ps)}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// tail is the escaped path: an encoded "/" (%2F) stays encoded.
			pr.Out.URL.Path, pr.Out.URL.RawPath = "/"+tail, ""
			if p, err := url.PathUnescape(tail); err == nil && p != tail {
				pr.Out.URL.Path, pr.Out.URL.RawPath = "/"+p, "/"+tail
			}
			// The app sees the host the client asked for, as behind a
			// Worker, so the URLs it builds point where the browser is.
			pr.Out.Host = pr.In.Host
			// The query goes as it came (order and encoding), less a token.
			if oq := pr.Out.URL.Query(); oq.Has(token.QueryParam) {
				oq.Del(token.QueryParam)
				pr.Out.URL.RawQuery = oq.Encode()
			}
			pr.Out.Header.Del("Authorization")
			// A page opened with the token in its URL names it in the
			// Referer of what it loads: the app gets neither.
			if ref := pr.Out.Header.Get("Referer"); ref != "" {
				if clean, ok := withoutToken(ref); ok {
					pr.Out.Header.Set("Referer", clean)
				}
			}
			stripCookie(pr.Out.Header, token.CookieName)
			stripCookie(pr.Out.Header, PreviewCookie)
			pr.SetXForwarded()
			pr.Out.Header.Del("X-Forwarded-Prefix")
			if door != "" {
				pr.Out.Header.Set("X-Forwarded-Prefix", door)
			}
		},
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			what := "port " + ps
			if kind == "app" {
				what = "app '" + label + "' (port " + ps + ")"
			}
			note := ""
			var oe *net.OpError
			if errors.As(err, &oe) && oe.Op == "dial" {
				// The app was not reached: a single-use link is given
				// back, and so is the cookie it would have set.
				if note = s.giveBack(link); note != "" {
					w.Header().Del("Set-Cookie")
				}
			}
			writePlainFail(w, sandboxserver.NewError(502, "E_PORT_UNREACHABLE", "nothing answers on "+what+" in sandbox "+id+note))
		},
	}
	if r.Header.Get("Upgrade") != "" {
		// A switched protocol outlives the request: see previewConn.
		// The proxy switches only to the protocol asked for.
		w = hijackNoDeadline{ResponseWriter: w, idle: s.opts.PreviewIdleTimeout, ws: strings.EqualFold(r.Header.Get("Upgrade"), "websocket")}
	}
	proxy.ServeHTTP(w, r)
}

// servePreviewURL answers GET /s/<id>/api/preview-url?port=<n> as a
// Worker does, after the session:attach check: for a request that came to
// a loopback name and a host-safe id, {"url":"http://<n>--<id>.localhost:
// <port>/?nimbus_token=<single-use session:preview token, 90 s>"}, as a
// Worker with a preview host suffix answers; otherwise {"url":null,
// "reason":"unavailable"}, as a Worker without one (a preview host is
// this machine's only, and another machine's browser would look for it
// on itself). Clients use it to learn whether their token may open the
// preview doors without reaching the app. Like the path doors, it takes
// no cookie on a loopback name.
func (s *Server) servePreviewURL(w http.ResponseWriter, r *http.Request, id string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if !ValidID(id) {
		writePlainFail(w, sandboxserver.NewError(400, "E_SANDBOX_ID", "Invalid sandbox id"))
		return
	}
	ar, fromCookie := previewAuthRequest(r, !localhost.Is(r.Host))
	p, aerr := s.auth.Authenticate(ar, id, []string{token.ScopeSessionAttach})
	if aerr != nil {
		writePlainFail(w, aerr)
		return
	}
	if fromCookie {
		if aerr := previewCrossOrigin(r); aerr != nil {
			writePlainFail(w, aerr)
			return
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	q := r.URL.Query().Get("port")
	// As the Worker's route (sandbox-api.md §1.10, "decimal"): kept as it
	// was rather than portnum's canonical form, since the Worker's reading
	// of "03000" is not specified.
	n, err := strconv.Atoi(q)
	if err != nil || q == "" || q[0] < '0' || q[0] > '9' || n < 1 || n > 65535 {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"Invalid port"}`))
		return
	}
	if u := s.previewURLAnswer(r, p, id, n); u != "" {
		b, _ := json.Marshal(map[string]string{"url": u})
		_, _ = w.Write(b)
		return
	}
	_, _ = w.Write([]byte(`{"url":null,"reason":"unavailable"}`))
}

// withoutToken returns u (a URL, or "?" and a raw query) without its
// nimbus_token query parameters, the rest of it as it was; ok is false
// when there was none.
func withoutToken(u string) (clean string, ok bool) {
	head, query, has := strings.Cut(u, "?")
	if !has {
		return u, false
	}
	query, frag, hasFrag := strings.Cut(query, "#")
	var keep []string
	for pair := range strings.SplitSeq(query, "&") {
		k, _, _ := strings.Cut(pair, "=")
		if dk, err := url.QueryUnescape(k); err == nil && dk == token.QueryParam || k == token.QueryParam {
			ok = true
			continue
		}
		if pair != "" {
			keep = append(keep, pair)
		}
	}
	if !ok {
		return u, false
	}
	clean = head + "?" + strings.Join(keep, "&")
	if len(keep) == 0 {
		clean = head
	}
	if hasFrag {
		clean += "#" + frag
	}
	return clean, true
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
