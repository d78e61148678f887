package localsandbox

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-sh/nimbus/internal/idrule"
	"github.com/nimbus-sh/nimbus/internal/localhost"
	"github.com/nimbus-sh/nimbus/internal/portnum"
	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// PreviewHostSuffix is the preview host suffix of a listening server, the
// Worker's NIMBUS_PREVIEW_HOST_SUFFIX (sandbox-api.md §1.11): previews
// are served at <port>--<id>.localhost and <name>--<id>.localhost, on the
// server's own port. Browsers and curl resolve every name under localhost
// to this machine, and each such host is an origin of its own: a
// sandbox's preview page cannot reach another sandbox's preview, nor the
// API, with the developer's cookies, as it could when every preview was a
// path of the API's origin.
const PreviewHostSuffix = "localhost"

// PreviewHostSuffixHeader names the header of the API's answers to a
// request that came to a loopback name, whose value is PreviewHostSuffix:
// the server tells its clients (pkg/sandboxclient reads it) that it serves
// preview hosts under that suffix on the port the request came to, so they
// print the URLs of those isolated origins rather than path doors a
// browser is redirected from. A Worker sends no such header.
const PreviewHostSuffixHeader = "X-Nimbus-Preview-Host-Suffix"

// previewTokenTTL is the lifetime of the single-use session:preview token
// /s/<id>/api/preview-url mints, as the Worker's.
const previewTokenTTL = 90 * time.Second

// previewHost reads a Host header as the Worker's router does
// (case-insensitive, without :port and one trailing dot). isPreview says
// it is under the suffix with a first label that has "--", which only
// preview hosts have: such a host is never the API. ok says it names a
// scoped preview this server serves: <port>--<id> (kind "port") or
// <name>--<id> (kind "app") with a host-safe id. Capability hosts
// (<cap>--…, public previews) are not served locally.
func previewHost(hostport string) (id, kind, label string, isPreview, ok bool) {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	first, found := strings.CutSuffix(host, "."+PreviewHostSuffix)
	if !found || strings.Contains(first, ".") || !strings.Contains(first, "--") {
		return "", "", "", false, false
	}
	label, id, _ = strings.Cut(first, "--")
	if !idrule.HostSafe(id) || !ValidID(id) {
		return "", "", "", true, false
	}
	if _, err := portnum.Parse(label, 1); err == nil {
		return id, "port", label, true, true
	}
	if sandboxserver.ValidAppName(label) {
		return id, "app", label, true, true
	}
	return "", "", "", true, false
}

// previewHostBase is the origin of id's preview of label for a request
// that came to a loopback name, on the port it came to: http://<label>--
// <id>.localhost:<port>. "" when the request came to another name (with
// --allow-host or --allow-remote: *.localhost would be the client's own
// machine) or the id is not host-safe.
func previewHostBase(r *http.Request, id, label string) string {
	if !localhost.Is(r.Host) || !idrule.HostSafe(id) {
		return ""
	}
	origin, _ := hostOrigin(r.TLS != nil, r.Host, id, label)
	return origin
}

// hostOrigin is the origin of a preview host on the port of hostport; ok
// is false when that port is not a port number. The port is copied into
// a Location and into URLs handed to browsers, so it is checked here
// rather than trusted to whatever parsed the Host header before (Go's
// server refuses "localhost:1@evil.example"; a front end might not).
func hostOrigin(tls bool, hostport, id, label string) (origin string, ok bool) {
	scheme := "http://"
	if tls {
		scheme = "https://"
	}
	port := ""
	if _, p, err := net.SplitHostPort(hostport); err == nil && p != "" {
		if _, err := portnum.Parse(p, 1); err != nil {
			return "", false
		}
		port = ":" + p
	}
	return scheme + label + "--" + id + "." + PreviewHostSuffix + port, true
}

// singleUse is the set of single-use tokens (their jti) taken, each kept
// until its token expires: a replay is E_BOOTSTRAP_CONSUMED, as on the
// Worker. A token is taken before its request goes on, so two requests
// with one token never both go on; one whose request did not reach the
// app is given back (see servePreview).
type singleUse struct {
	mu   sync.Mutex
	used map[string]time.Time
}

// consume records jti, which expires at exp, and reports whether it was
// not taken before (nor is being used by another request).
func (u *singleUse) consume(jti string, exp, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.used == nil {
		u.used = map[string]time.Time{}
	}
	for k, e := range u.used {
		if e.Before(now) {
			delete(u.used, k)
		}
	}
	if _, seen := u.used[jti]; seen {
		return false
	}
	u.used[jti] = exp
	return true
}

// giveBack forgets jti, which consume took for a request that did not
// reach the app: the token may be used again until it expires.
func (u *singleUse) giveBack(jti string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.used, jti)
}

// linkUse is the single-use token a request's exchange took: jti "" when
// the request had none.
type linkUse struct {
	jti string
	exp time.Time
}

// queryToken reports whether r's token is its nimbus_token query (there
// is no bearer Authorization header, which comes first).
func queryToken(r *http.Request) bool {
	if r.URL.Query().Get(token.QueryParam) == "" {
		return false
	}
	u := *r.URL
	u.RawQuery = ""
	h := *r
	h.Header = http.Header{"Authorization": r.Header.Values("Authorization")}
	h.URL = &u
	_, err := token.ExtractBearer(&h)
	return err != nil
}

// exchange authenticates the nimbus_token query of a preview host, the
// attach exchange of sandbox-api.md §1.10 and token.md §5.1: a single-use
// session:preview token (with a jti and a sid), consumed here, or, unlike
// the Worker, which wants single-use tokens here, a session:attach token,
// as the path doors take it (a link to a door is sent on here with its
// token). A single-use token opens only the preview it was minted for:
// its jti is <label>--<random> (previewToken), and label, of kind "port"
// or "app", must be the host's. link is the single-use token taken (""
// jti for a reusable one), which the caller gives back when the request
// does not reach the app.
func (s *Server) exchange(ar *http.Request, id, kind, label string) (p sandboxserver.Principal, link linkUse, aerr *sandboxserver.Error) {
	p, aerr = s.auth.Authenticate(ar, id, nil)
	if aerr != nil {
		return nil, linkUse{}, aerr
	}
	claims := p.(sandboxserver.TokenPrincipal).Claims
	jti, ok := claims.JTI()
	if !ok {
		if aerr := sandboxserver.CheckClaims(claims, id, []string{token.ScopeSessionAttach}); aerr != nil {
			return nil, linkUse{}, aerr
		}
		return p, linkUse{}, nil
	}
	if aerr := sandboxserver.CheckClaims(claims, id, []string{token.ScopeSessionPreview}); aerr != nil {
		return nil, linkUse{}, aerr
	}
	if _, pinned := claims.SessionID(); !pinned {
		return nil, linkUse{}, sandboxserver.NewError(http.StatusUnauthorized, token.CodeTokenClaims, "Invalid token claims: a single-use token must carry sid")
	}
	if minted, _, bound := strings.Cut(jti, "--"); !bound || minted != label {
		return nil, linkUse{}, linkMismatch(id, kind, label, minted, bound)
	}
	if !s.previewJTIs.consume(jti, claims.ExpiresTime(), s.opts.Now()) {
		return nil, linkUse{}, sandboxserver.NewError(http.StatusUnauthorized, token.CodeBootstrapConsumed, "Attach bootstrap token already used")
	}
	return p, linkUse{jti: jti, exp: claims.ExpiresTime()}, nil
}

// giveBack gives link back (see singleUse) and returns the note that tells
// the client so, for the message of its refusal; "" when the request had
// no single-use token.
func (s *Server) giveBack(link linkUse) string {
	if link.jti == "" {
		return ""
	}
	s.previewJTIs.giveBack(link.jti)
	left := link.exp.Sub(s.opts.Now()).Truncate(time.Second)
	return "; this single-use link was not spent: open the same link again once the app answers (it expires in " + left.String() + ")"
}

// cookieInstead authenticates r by its preview cookie alone, its
// nimbus_token query left out, for sandbox id; ok is false when r has no
// cookie or the cookie opens nothing here. The caller applies the cookie's
// same-origin rule.
func (s *Server) cookieInstead(r *http.Request, id string) (sandboxserver.Principal, bool) {
	u := *r.URL
	q := u.Query()
	q.Del(token.QueryParam)
	u.RawQuery = q.Encode()
	c := *r
	c.URL = &u
	c.Header = http.Header{"Cookie": r.Header.Values("Cookie")}
	ar, fromCookie := previewAuthRequest(&c, true)
	if !fromCookie {
		return nil, false
	}
	p, aerr := s.auth.Authenticate(ar, id, []string{token.ScopeSessionAttach})
	return p, aerr == nil
}

// codePreviewLinkMismatch refuses a single-use preview link on a preview
// host it was not minted for.
const codePreviewLinkMismatch = "E_PREVIEW_LINK_MISMATCH"

// linkMismatch is the refusal of a single-use token minted for the preview
// minted (bound false: for none) on the preview host of label, of kind
// "port" or "app". The link is not spent.
func linkMismatch(id, kind, label, minted string, bound bool) *sandboxserver.Error {
	ask := "ask GET /s/" + id + "/api/preview-url?port=" + label + " for a link to it"
	what, was := "port "+label, "port "+minted
	if _, err := portnum.Parse(minted, 1); err != nil {
		was = "'" + minted + "'"
	}
	if kind == "app" {
		ask = "ask GET /s/" + id + "/api/preview-url?port=N, N the port of app '" + label + "', for a link to that port"
		what = "app '" + label + "'"
	}
	if !bound {
		return sandboxserver.NewError(http.StatusForbidden, codePreviewLinkMismatch, "this single-use token was not minted for a preview of sandbox "+id+": "+ask)
	}
	return sandboxserver.NewError(http.StatusForbidden, codePreviewLinkMismatch, "this single-use link opens only the preview it was minted for ("+was+" of sandbox "+id+"), not "+what+"; it was not spent: "+ask)
}

// previewToken mints the single-use session:preview token of
// /s/<id>/api/preview-url?port=<label> for the caller p. Its jti is
// <label>--<random>, which ties it to that port's preview host: signed,
// it cannot be changed, and it needs no state that a restart would lose.
func (s *Server) previewToken(p sandboxserver.Principal, id, label string) (string, error) {
	claims := p.(sandboxserver.TokenPrincipal).Claims
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	jti := label + "--" + hex.EncodeToString(b)
	tenant := claims.Tenant()
	ttl := previewTokenTTL
	in := token.Input{Tenant: &tenant, Scopes: []string{token.ScopeSessionPreview}, SessionID: &id, JTI: &jti, TTL: &ttl}
	if sub, ok := claims.Subject(); ok {
		in.Subject = &sub
	}
	return token.Issuer{Secret: s.opts.Secret, Now: s.opts.Now}.Mint(in)
}

// previewURLAnswer is the answer of /s/<id>/api/preview-url for port n
// when the request came to a loopback name and id is host-safe, as a
// Worker with a preview suffix answers; "" otherwise.
func (s *Server) previewURLAnswer(r *http.Request, p sandboxserver.Principal, id string, n int) string {
	base := previewHostBase(r, id, strconv.Itoa(n))
	if base == "" {
		return ""
	}
	tok, err := s.previewToken(p, id, strconv.Itoa(n))
	if err != nil {
		return ""
	}
	return base + "/?" + token.QueryParam + "=" + tok
}
