package localsandbox

import (
	"net/http"
	"net/url"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// PreviewCookie is the cookie a port preview link sets, so that the
// browser can load the page's other resources without the token in every
// URL. It is scoped to its sandbox's path (/s/<id>/), SameSite=Strict,
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
// Authorization header or the nimbus_token query, else the preview cookie
// (no other cookie).
func previewAuthRequest(r *http.Request) *http.Request {
	out := *r
	out.Header = r.Header.Clone()
	out.Header.Del("Cookie")
	if _, err := token.ExtractBearer(&out); err == nil {
		return &out
	}
	if ck, err := r.Cookie(PreviewCookie); err == nil && ck.Value != "" {
		out.Header.Set("Authorization", "Bearer "+ck.Value)
	}
	return &out
}

// previewCookie mints the preview cookie for a verified link token, nil
// when there is nothing to mint from (a token about to expire, claims a
// token cannot carry).
func (s *Server) previewCookie(r *http.Request, p sandboxserver.Principal, id string) *http.Cookie {
	tp, ok := p.(sandboxserver.TokenPrincipal)
	if !ok {
		return nil
	}
	now := s.opts.Now()
	ttl := min(PreviewCookieTTL, tp.Claims.ExpiresTime().Sub(now)).Truncate(time.Second)
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
		Path:     "/s/" + url.PathEscape(id) + "/",
		MaxAge:   int(ttl / time.Second),
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	}
}
