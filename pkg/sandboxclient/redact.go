package sandboxclient

import (
	"net/http"
	"strings"
)

// redactedToken stands in for the bearer token where a server's text
// repeats it.
const redactedToken = "[redacted token]"

// minRedacted is the shortest token that is redacted: anything shorter
// would hide ordinary words.
const minRedacted = 8

// bearerOf returns the bearer token req carried, or "".
func bearerOf(req *http.Request) string {
	if req == nil {
		return ""
	}
	scheme, tok, ok := strings.Cut(req.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// withoutToken is RedactToken with the bearer token req carried.
func withoutToken(s string, req *http.Request) string {
	return RedactToken(s, bearerOf(req))
}

// RedactToken hides token wherever s, a server's text bound for an error
// message, repeats it: a Worker or a proxy that echoes the request (an
// error page quoting its headers, a message quoting the token it refused)
// must not put the credential in a CI log. Call it before the text is cut
// to a bound, so that a cut cannot keep a part of the token. Tokens
// shorter than 8 bytes are left alone (they would hide ordinary words).
func RedactToken(s, token string) string {
	if len(token) < minRedacted || s == "" {
		return s
	}
	return strings.ReplaceAll(s, token, redactedToken)
}
