// Package forward serves a local port that proxies HTTP and WebSocket
// traffic to a port of a Nimbus sandbox, through the Worker's authenticated
// path-style preview door /s/<id>/port/<port>/ (spec sandbox-api §1.10),
// as `kubectl port-forward` or `fly proxy` do for their platforms.
//
// Every request to the Worker carries the caller's bearer token (one with
// session:attach, pinned to the sandbox) and the Worker's own host, so it
// passes the Worker's (and `nimbus dev`'s) authentication, Host and Origin
// checks. Requests to the local port must name a loopback host, so that a
// web page cannot reach the sandbox through DNS rebinding, and a browser's
// request must come from a page on a loopback origin, so that a page on
// another site cannot use the forward's credential. The package never
// prints: failures are reported through Options.OnError.
package forward

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"

	"github.com/nimbus-sh/nimbus/internal/headerbound"
	"github.com/nimbus-sh/nimbus/internal/localhost"
	"github.com/nimbus-sh/nimbus/internal/unreadbody"
)

// Codes of the errors this package reports.
const (
	// CodeUpstream: the Worker could not be reached or the exchange broke.
	CodeUpstream = "E_FORWARD_UPSTREAM"
	// CodeListen: the local port could not be opened.
	CodeListen = "E_FORWARD_LISTEN"
	// CodeInvalidArgument: Options are incomplete or wrong.
	CodeInvalidArgument = sc.CodeInvalidArgument
)

// discard returns a logger that swallows what the standard library would
// log to stderr.
func discard() *log.Logger { return log.New(io.Discard, "", 0) }

// DefaultTokenTTL is how long a token from Options.Token is reused before
// it is asked for again: well inside the 15 minutes of a minted token.
const DefaultTokenTTL = time.Minute

// maxRefusalPeek bounds how much of a 401/403 answer is read to tell a
// refusal by the Worker from one by the app.
const maxRefusalPeek = 4 << 10

// MaxResponseHeaderBytes bounds the Worker's answer headers the default
// transport reads for one request, and (counted apart, by the Proxy with
// any transport) its 1xx answers before the final one: the sandbox
// client's bound (sandboxclient.MaxResponseHeaderBytes, 1 MiB), more than
// browsers take of an answer's. net/http's own default, 10 MiB, let a
// broken or hostile Worker make the forward hold that much for each of
// the requests a page makes at once.
const MaxResponseHeaderBytes = sc.MaxResponseHeaderBytes

// Options configure a Proxy.
type Options struct {
	// Endpoint is the Worker origin, e.g. https://my-nimbus.workers.dev.
	Endpoint string
	// SandboxID is the sandbox whose port is forwarded.
	SandboxID string
	// Port is the sandbox port (1 to 65535).
	Port int
	// Token returns the bearer token sent with each request: it needs
	// session:attach and, when pinned, the sandbox's sid. It is asked again
	// after TokenTTL. Nil sends no token (a Worker without auth).
	Token func(ctx context.Context) (string, error)
	// TokenTTL is how long a token is reused; 0 means DefaultTokenTTL.
	TokenTTL time.Duration
	// Transport carries the requests to the Worker. Nil means
	// NewTransport(ConnectTimeout): connections kept alive and no overall
	// timeout, so streams and WebSockets may stay open for hours.
	Transport http.RoundTripper
	// ConnectTimeout bounds dialing the Worker and the TLS handshake of the
	// default transport, as the sandbox client's HTTPTimeout does. 0 means
	// sandboxclient.DefaultHTTPTimeout; a negative value disables the bound.
	// How long the app takes to answer is the app's business: the local
	// client that made the request decides how long to wait.
	ConnectTimeout time.Duration
	// OnError, when set, is called from request goroutines for each
	// request that could not be forwarded (an *sc.Error with CodeUpstream)
	// and each one the Worker refused (an *sc.RemoteError: an expired token,
	// a missing scope, a port no longer exposed). The local client gets the
	// answer either way.
	OnError func(r *http.Request, err error)
}

// Proxy is the HTTP handler of one forwarded port. It is safe for
// concurrent use.
type Proxy struct {
	o       Options
	door    string // /s/<escaped id>/port/<port>
	origin  *url.URL
	rp      *httputil.ReverseProxy
	tokMu   sync.Mutex
	tok     string
	tokTime time.Time
}

// NewTransport returns the transport a Proxy uses by default: keep-alive
// connections (a forwarded request costs no new connection), dial and TLS
// handshake bounded by connect (0 means sandboxclient.DefaultHTTPTimeout,
// negative means no bound), answer headers bounded by
// MaxResponseHeaderBytes, and no bound on how long an answer may stream.
func NewTransport(connect time.Duration) *http.Transport {
	if connect == 0 {
		connect = sc.DefaultHTTPTimeout
	}
	if connect < 0 {
		connect = 0 // net.Dialer and http.Transport: 0 is no bound
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	t.IdleConnTimeout = 90 * time.Second
	t.DialContext = (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = connect
	t.MaxResponseHeaderBytes = MaxResponseHeaderBytes
	return t
}

// New checks o and returns the proxy.
func New(o Options) (*Proxy, error) {
	ep := strings.TrimRight(strings.TrimSpace(o.Endpoint), "/")
	u, err := url.Parse(ep)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, &sc.Error{Code: CodeInvalidArgument, Message: "forward: the endpoint must be an http(s) origin, got " + strconv.Quote(sc.RedactEndpoint(o.Endpoint))}
	}
	if !sc.ValidID(o.SandboxID) {
		return nil, &sc.Error{Code: sc.CodeSandboxID, Message: "forward: invalid sandbox id " + strconv.Quote(o.SandboxID)}
	}
	if o.Port < 1 || o.Port > 65535 {
		return nil, &sc.Error{Code: CodeInvalidArgument, Message: "forward: the port must be 1 to 65535, got " + strconv.Itoa(o.Port)}
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	if o.Transport == nil {
		o.Transport = NewTransport(o.ConnectTimeout)
	}
	p := &Proxy{o: o, origin: &url.URL{Scheme: u.Scheme, Host: u.Host}}
	p.door = "/s/" + url.PathEscape(o.SandboxID) + "/port/" + strconv.Itoa(o.Port)
	target := &url.URL{Scheme: u.Scheme, Host: u.Host, Path: p.door}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        func(pr *httputil.ProxyRequest) { p.rewrite(pr, target) },
		Transport:      o.Transport,
		FlushInterval:  -1,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		// Failures go to OnError; the package never prints.
		ErrorLog: discard(),
	}
	return p, nil
}

// Door returns the preview door requests are sent to, without the
// endpoint: /s/<id>/port/<port>.
func (p *Proxy) Door() string { return p.door }

// tokenKey carries the token fetched for a request into Rewrite, which
// cannot fail.
type tokenKey struct{}

// ServeHTTP forwards one request (or WebSocket) to the sandbox port.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !localhost.Is(r.Host) {
		// A page on another site whose name was rebound to 127.0.0.1
		// must not reach the sandbox with this forward's credential.
		unreadbody.RefuseRequest(w, r)
		http.Error(w, "nimbus forward: refusing Host "+strconv.Quote(r.Host)+": use http://127.0.0.1 or http://localhost", http.StatusForbidden)
		return
	}
	if dotSegments(r.URL.EscapedPath()) {
		// The Worker resolves "." and ".." (and their %2e forms, as a
		// URL parser does) once the path is under the door: the request
		// would leave it and reach the Worker's other routes with this
		// forward's token. Browsers resolve them before sending.
		unreadbody.RefuseRequest(w, r)
		http.Error(w, "nimbus forward: refusing a path with . or .. segments, which would leave the forwarded port", http.StatusBadRequest)
		return
	}
	if why := crossSite(r); why != "" {
		// Any page the browser shows can reach a loopback port; the
		// forward's token must not act for it, as the Worker's preview
		// cookie does not act for other origins (E_CROSS_SITE_REFUSED).
		unreadbody.RefuseRequest(w, r)
		http.Error(w, "nimbus forward: refusing a cross-site request ("+why+"): only pages on loopback origins (http://127.0.0.1, http://localhost) may use this forward", http.StatusForbidden)
		return
	}
	tok, err := p.token(r.Context())
	if err != nil {
		p.report(r, &sc.Error{Code: CodeUpstream, Message: "forward: no token for the Worker", Err: err})
		unreadbody.RefuseRequest(w, r)
		http.Error(w, "nimbus forward: no token for the Worker: "+err.Error(), http.StatusBadGateway)
		return
	}
	ctx := context.WithValue(r.Context(), tokenKey{}, tok)
	// ReverseProxy relays 1xx answers through a trace hook, and with one
	// set the transport stops counting them against MaxResponseHeaderBytes
	// (it leaves the bound to the hook): a Worker could send them for ever.
	// They are charged here as HTTP/2 charges header fields (name, value
	// and 32 bytes each), plus 32 for the status line, and counted: the
	// hook sees neither a status line's text nor a value's padding, which
	// the transport reads (up to MaxResponseHeaderBytes per answer), so
	// the count is what bounds the bytes read over HTTP/1.1.
	var informational int64
	var answers int
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{Got1xxResponse: func(_ int, h textproto.MIMEHeader) error {
		if answers++; answers > MaxInformationalAnswers {
			return errTooManyInformational
		}
		informational += 32
		for k, vs := range h {
			for _, v := range vs {
				informational += int64(len(k) + len(v) + 32)
			}
		}
		if informational > MaxResponseHeaderBytes {
			return errInformational
		}
		return nil
	}})
	p.rp.ServeHTTP(w, r.WithContext(ctx))
}

// dotSegments reports whether the escaped path p has a "." or ".."
// segment, written plainly or percent-encoded ("%2e%2e", ".%2E"), which a
// WHATWG URL parser resolves as the plain ones.
func dotSegments(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		switch strings.ToLower(seg) {
		case ".", "..", "%2e", ".%2e", "%2e.", "%2e%2e":
			return true
		}
	}
	return false
}

// errInformational ends a request whose 1xx answers exceeded
// MaxResponseHeaderBytes.
var errInformational = errors.New("informational (1xx) answers exceeded the header bound")

// MaxInformationalAnswers bounds the 1xx answers the Proxy relays before
// a request's final answer. Browsers act on the first 103 Early Hints;
// net/http itself takes 5 when nothing relays them. With
// MaxResponseHeaderBytes per answer it bounds what a Worker can make the
// forward read before answering.
const MaxInformationalAnswers = 16

// errTooManyInformational ends a request that got more than
// MaxInformationalAnswers 1xx answers.
var errTooManyInformational = errors.New("more informational (1xx) answers than the bound")

// crossSite says why r is a browser request made by a page that is not on
// a loopback origin, or "" when it is not one. Such a page may send
// requests to this port (forms, fetch, WebSockets, which the browser does
// not hold to CORS), and the forward would send them with its credential:
// a page on another site could then act in the app, or read it where the
// app allows CORS. An Origin header names the page (browsers send it with
// WebSockets, CORS requests and anything but GET and HEAD; "null" for
// opaque origins); without one, Sec-Fetch-Site tells a cross-site
// subresource load. A navigation (a link followed from another site) and
// clients that are not browsers pass.
func crossSite(r *http.Request) string {
	if o, ok := r.Header["Origin"]; ok {
		origin := ""
		if len(o) > 0 {
			origin = o[0]
		}
		u, err := url.Parse(origin)
		if len(o) != 1 || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.User != nil || !localhost.Is(u.Host) {
			return "Origin " + strconv.Quote(origin)
		}
		return ""
	}
	if strings.EqualFold(r.Header.Get("Sec-Fetch-Site"), "cross-site") && !strings.EqualFold(r.Header.Get("Sec-Fetch-Mode"), "navigate") {
		return "Sec-Fetch-Site cross-site"
	}
	return ""
}

// token returns the cached token, asking Options.Token after TokenTTL.
func (p *Proxy) token(ctx context.Context) (string, error) {
	if p.o.Token == nil {
		return "", nil
	}
	p.tokMu.Lock()
	defer p.tokMu.Unlock()
	if p.tok != "" && time.Since(p.tokTime) < p.o.TokenTTL {
		return p.tok, nil
	}
	t, err := p.o.Token(ctx)
	if err != nil {
		return "", err
	}
	p.tok, p.tokTime = t, time.Now()
	return t, nil
}

// tokenOf returns the token fetched for r (or for the request r was made
// from), "" when none was.
func tokenOf(r *http.Request) string {
	if r == nil {
		return ""
	}
	tok, _ := r.Context().Value(tokenKey{}).(string)
	return tok
}

// rewrite points the request at the door, with the Worker's host, the
// bearer token and, for a browser's request, the Worker's origin.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest, target *url.URL) {
	localOrigin := "http://" + pr.In.Host
	pr.SetURL(target)
	h := pr.Out.Header
	h.Del("Authorization")
	if tok := tokenOf(pr.In); tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	// A page served through this port sends its own origin; the app (and
	// the Worker's cross-site checks) see the origin it is served from.
	if o := h.Get("Origin"); o != "" && strings.EqualFold(o, localOrigin) {
		h.Set("Origin", p.origin.String())
	}
	// Credentials for the Worker travel in the Authorization header only.
	stripCookies(h, "__Host-nimbus_token", "nimbus_token", "nimbus_preview")
}

// modifyResponse maps what the app says about its own URLs (redirects and
// cookie paths under the door, the Worker's host) back to the local
// origin, and reports refusals by the Worker.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	if loc := resp.Header.Get("Location"); loc != "" {
		resp.Header.Set("Location", p.localLocation(loc))
	}
	if cs := resp.Header.Values("Set-Cookie"); len(cs) > 0 {
		resp.Header.Del("Set-Cookie")
		for _, c := range cs {
			resp.Header.Add("Set-Cookie", p.localCookie(c))
		}
	}
	if (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound) &&
		strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && p.o.OnError != nil {
		peek, _ := io.ReadAll(io.LimitReader(resp.Body, maxRefusalPeek))
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(peek), resp.Body), resp.Body}
		var e struct {
			Error string `json:"error"`
			Code  string `json:"code"`
		}
		if json.Unmarshal(peek, &e) == nil && strings.HasPrefix(e.Code, "E_") && e.Error != "" {
			// The refusal may quote the token the request carried (a
			// Worker or a proxy echoing the request): the report, which
			// ends up on stderr, keeps it out as the sandbox client's
			// errors do, and as bounded.
			tok := tokenOf(resp.Request)
			p.report(resp.Request, &sc.RemoteError{Op: "forward", Status: resp.StatusCode, Code: sc.ServerCode(e.Code, tok), Message: sc.ServerText(e.Error, tok)})
		}
	}
	return nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// localLocation rewrites a redirect to a URL under the door (relative, or
// absolute on the Worker) into the same path on the local origin.
func (p *Proxy) localLocation(loc string) string {
	u, err := url.Parse(loc)
	if err != nil {
		return loc
	}
	if u.IsAbs() {
		if !strings.EqualFold(u.Scheme, p.origin.Scheme) || !strings.EqualFold(u.Host, p.origin.Host) {
			return loc
		}
	} else if u.Host != "" {
		return loc
	}
	rest, ok := strings.CutPrefix(u.EscapedPath(), p.door)
	if !ok || (rest != "" && rest[0] != '/') {
		return loc
	}
	if rest == "" {
		rest = "/"
	}
	out := rest
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	if u.Fragment != "" {
		out += "#" + u.EscapedFragment()
	}
	return out
}

// localCookie rewrites a cookie scoped to the door or to the Worker's host
// so that the browser keeps it for the local origin.
func (p *Proxy) localCookie(line string) string {
	c, err := http.ParseSetCookie(line)
	if err != nil {
		return line
	}
	changed := false
	if rest, ok := strings.CutPrefix(c.Path, p.door); ok && (rest == "" || rest[0] == '/') {
		if rest == "" {
			rest = "/"
		}
		c.Path, changed = rest, true
	}
	if c.Domain != "" && strings.EqualFold(strings.TrimPrefix(c.Domain, "."), p.origin.Hostname()) {
		c.Domain, changed = "", true
	}
	if !changed {
		return line
	}
	return c.String()
}

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		// The local client went away (or the forward is stopping).
		return
	}
	cause := withoutToken(unwrapURLError(err), tokenOf(r))
	if headersTooLarge(err) {
		// The Worker was reached; what it sent is the failure.
		msg := fmt.Sprintf("the Worker %s answered with headers of more than %d MiB", p.origin, MaxResponseHeaderBytes>>20)
		if errors.Is(err, errTooManyInformational) || strings.Contains(err.Error(), errTooManyInformational.Error()) {
			msg = fmt.Sprintf("the Worker %s sent more than %d informational (1xx) answers before its answer", p.origin, MaxInformationalAnswers)
		}
		p.report(r, &sc.Error{Code: CodeUpstream, Message: "forward: " + msg, Err: cause})
		http.Error(w, "nimbus forward: "+msg, http.StatusBadGateway)
		return
	}
	if headerbound.BrokenHTTP2(err) {
		// Over HTTP/2 most oversized headers end here, as do other
		// frames no server should send: net/http does not tell them
		// apart, and either way the Worker was reached.
		msg := fmt.Sprintf("the Worker %s answered with headers of more than %d MiB or with frames that break HTTP/2", p.origin, MaxResponseHeaderBytes>>20)
		p.report(r, &sc.Error{Code: CodeUpstream, Message: "forward: " + msg, Err: cause})
		http.Error(w, "nimbus forward: "+msg, http.StatusBadGateway)
		return
	}
	p.report(r, &sc.Error{Code: CodeUpstream, Message: "forward: cannot reach " + p.origin.String(), Err: cause})
	http.Error(w, "nimbus forward: cannot reach "+p.origin.String()+": "+cause.Error(), http.StatusBadGateway)
}

// headersTooLarge says err is the refusal of the Worker's answer headers
// over MaxResponseHeaderBytes: net/http's (headerbound.Exceeded), or the
// Proxy's of 1xx answers over it, which over HTTP/2 arrives as the cause
// of a stream error and so as text only too.
func headersTooLarge(err error) bool {
	return errors.Is(err, errInformational) || errors.Is(err, errTooManyInformational) ||
		headerbound.Exceeded(err) ||
		strings.Contains(err.Error(), errInformational.Error()) ||
		strings.Contains(err.Error(), errTooManyInformational.Error())
}

func (p *Proxy) report(r *http.Request, err error) {
	if p.o.OnError != nil {
		p.o.OnError(r, err)
	}
}

// withoutToken is err without tok in its text: net/http quotes what a
// Worker sent where it could not read it as HTTP (a status line, a header
// line, an Upgrade header), and the Worker may echo the request's token
// there. err is kept as it is when its text holds none of it.
func withoutToken(err error, tok string) error {
	text := err.Error()
	if redacted := sc.RedactToken(text, tok); redacted != text {
		return errors.New(redacted)
	}
	return err
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// stripCookies removes the named cookies from the Cookie headers.
func stripCookies(h http.Header, names ...string) {
	lines := h.Values("Cookie")
	if len(lines) == 0 {
		return
	}
	var keep []string
	for _, line := range lines {
		for piece := range strings.SplitSeq(line, ";") {
			piece = strings.TrimSpace(piece)
			k, _, _ := strings.Cut(piece, "=")
			drop := piece == ""
			for _, n := range names {
				drop = drop || k == n
			}
			if !drop {
				keep = append(keep, piece)
			}
		}
	}
	h.Del("Cookie")
	if len(keep) > 0 {
		h.Set("Cookie", strings.Join(keep, "; "))
	}
}

// Listen opens 127.0.0.1:port. When that port cannot be opened (taken, or
// privileged) and fallback is set, it opens a free port instead; the
// listener's address says which.
func Listen(port int, fallback bool) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err == nil {
		return ln, nil
	}
	if fallback {
		if ln, ferr := net.Listen("tcp", "127.0.0.1:0"); ferr == nil {
			return ln, nil
		}
	}
	return nil, &sc.Error{Code: CodeListen, Message: "cannot listen on 127.0.0.1:" + strconv.Itoa(port), Err: unwrapOpError(err)}
}

func unwrapOpError(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

// idleTimeout is how long a connection may stay open between requests
// (or before its first one, with ReadHeaderTimeout): longer than the Go
// client's own 90 s, so that the server is not the side that races a
// reused connection, as nimbus dev's.
var idleTimeout = 120 * time.Second

// Serve serves h on ln until ctx ends, then closes the listener and every
// connection, upgraded ones (WebSockets) included, and returns nil. An
// error of the listener itself is returned.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       idleTimeout,
		// Request contexts derive from ctx, so that the proxy closes the
		// Worker side of upgraded connections, which Close does not track.
		BaseContext: func(net.Listener) context.Context { return sctx },
		ErrorLog:    discard(),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	cancel()
	_ = srv.Close()
	<-errc
	return nil
}
