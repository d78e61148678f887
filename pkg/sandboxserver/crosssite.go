package sandboxserver

import (
	"mime"
	"net/http"
	"strings"

	"github.com/nimbus-sh/nimbus/pkg/token"
)

// CodeCrossSite is the 403 of a request that carries its token in a cookie
// but may come from another site.
const CodeCrossSite = "E_CROSS_SITE_REFUSED"

// checkCookieRequest keeps a cookie from acting as a credential for other
// sites. A browser attaches cookies to requests that any page it shows can
// make (a form POSTs text/plain without a preflight), so a token taken
// from the cookie is accepted only when the request says it is
// same-origin: no Sec-Fetch-Site other than same-origin or none, an
// Origin (when sent) equal to the server's own, and, for a body,
// Content-Type application/json, which no page can send to another
// origin without a CORS preflight that this API never grants to
// credentialed requests. Tokens in the Authorization header or the query
// are not ambient, so they are not restricted.
func checkCookieRequest(r *http.Request) *Error {
	if !cookieCredential(r) {
		return nil
	}
	site := r.Header.Get("Sec-Fetch-Site")
	origin := r.Header.Get("Origin")
	ok := site == "" || site == "same-origin" || site == "none"
	if ok && origin != "" {
		scheme := "http://"
		if r.TLS != nil {
			scheme = "https://"
		}
		ok = strings.EqualFold(origin, scheme+r.Host)
	}
	if ok && r.Method == http.MethodPost {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		ok = err == nil && mt == "application/json"
	}
	if ok {
		return nil
	}
	return NewError(http.StatusForbidden, CodeCrossSite, "Cross-site request refused: a token from a cookie is only accepted on same-origin application/json requests; send it in the Authorization header")
}

// cookieCredential reports whether the token of r comes from the cookie:
// there is one, and neither the Authorization header nor the query has
// one (they come first).
func cookieCredential(r *http.Request) bool {
	if len(r.Header.Values("Cookie")) == 0 {
		return false
	}
	if _, err := token.ExtractBearer(r); err != nil {
		return false
	}
	noCookie := *r
	noCookie.Header = r.Header.Clone()
	noCookie.Header.Del("Cookie")
	_, err := token.ExtractBearer(&noCookie)
	return err != nil
}
