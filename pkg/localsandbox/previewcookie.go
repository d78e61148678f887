package localsandbox

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// PreviewCookie is the cookie a port preview link sets, so that the
// browser can load the page's other resources without the token in every
// URL. On a preview host (<port>--<id>.localhost) it is that host's only
// (Path=/, no Domain); under a name that is not loopback (--allow-host),
// where previews are path-style only, it is scoped to its sandbox's path
// (/s/<id>/), and every sandbox's previews share one origin. It is
// SameSite=Strict,
// HttpOnly, lives at most PreviewCookieTTL, and holds a token minted for
// it: session:attach only, pinned to the sandbox. So it opens that
// sandbox's previews and nothing else, whatever the link's token could
// do; no other site can make the browser send it, and it is never sent to
// the API routes (the RPC route would refuse it anyway, lacking
// sandbox:use). The Worker's cookie (__Host-nimbus_token, Path=/, the
// link's own token) is not used for previews.
const PreviewCookie = "nimbus_preview"

// PreviewCookieTTL bounds the life of the preview cookie (and of its
// token; never beyond the link token's own expiry).
const PreviewCookieTTL = time.Hour

// previewAuthRequest is r as the preview route authenticates it: the
// Authorization header or the nimbus_token query, else, when cookie
// allows it, the preview cookie (no other cookie). fromCookie says the
// token is the cookie's.
func previewAuthRequest(r *http.Request, cookie bool) (ar *http.Request, fromCookie bool) {
	out := *r
	out.Header = r.Header.Clone()
	out.Header.Del("Cookie")
	if _, err := token.ExtractBearer(&out); err == nil {
		return &out, false
	}
	if !cookie {
		return &out, false
	}
	if ck, err := r.Cookie(PreviewCookie); err == nil && ck.Value != "" {
		out.Header.Set("Authorization", "Bearer "+ck.Value)
		return &out, true
	}
	return &out, false
}

// previewCrossOrigin keeps the preview cookie from acting for other
// origins. SameSite=Strict keeps other sites out, but every page served
// from this machine (another dev server, an app on its own port) is the
// same site as this server, whatever its port: with the cookie attached
// it could read the preview through a WebSocket or post to the app. So a
// request whose token is the cookie is served when it comes from this
// origin (Sec-Fetch-Site same-origin or none, an Origin naming this
// host), or is the top-level GET of a link followed from a page of the
// same site; anything else is 403 E_CROSS_SITE_REFUSED. Browsers without
// Sec-Fetch-Site are judged by Origin alone.
func previewCrossOrigin(r *http.Request) *sandboxserver.Error {
	var ok bool
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "same-origin", "none":
		ok = true
	case "":
		origin := r.Header.Get("Origin")
		u, err := url.Parse(origin)
		ok = origin == "" || err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, r.Host)
	default:
		ok = r.Header.Get("Sec-Fetch-Mode") == "navigate" && (r.Method == http.MethodGet || r.Method == http.MethodHead)
	}
	if ok {
		return nil
	}
	return sandboxserver.NewError(http.StatusForbidden, sandboxserver.CodeCrossSite, "Cross-origin request refused: the preview cookie only opens previews for pages of this origin; send a session:attach token in the Authorization header or the nimbus_token query")
}

// previewCookie mints the preview cookie for a verified link token, nil
// when there is nothing to mint from (a token about to expire, claims a
// token cannot carry). path is the cookie's Path; it has no Domain, so a
// preview host's cookie is that host's only. A single-use token's cookie
// lives PreviewCookieTTL, as the Worker's exchange gives it 1 h.
func (s *Server) previewCookie(r *http.Request, p sandboxserver.Principal, id, path string, single bool) *http.Cookie {
	tp, ok := p.(sandboxserver.TokenPrincipal)
	if !ok {
		return nil
	}
	now := s.opts.Now()
	ttl := PreviewCookieTTL
	if !single {
		ttl = min(ttl, tp.Claims.ExpiresTime().Sub(now))
	}
	ttl = ttl.Truncate(time.Second)
	if ttl < time.Second {
		return nil
	}
	tenant := tp.Claims.Tenant()
	in := token.Input{Tenant: &tenant, SessionID: &id, Scopes: []string{token.ScopeSessionAttach}, TTL: &ttl}
	if sub, ok := tp.Claims.Subject(); ok {
		in.Subject = &sub
	}
	tok, err := token.Issuer{Secret: s.opts.Secret, Now: s.opts.Now}.Mint(in)
	if err != nil {
		return nil
	}
	return &http.Cookie{
		Name:     PreviewCookie,
		Value:    tok,
		Path:     path,
		MaxAge:   int(ttl / time.Second),
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	}
}
