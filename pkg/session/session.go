// Package session builds the browser-facing URLs of a Nimbus Worker, as the
// upstream SDK's sessionAttachUrl and mintAndAttach do.
package session

import (
	"errors"
	"net/url"
	"strings"

	"github.com/nimbus-sh/nimbus/pkg/token"
)

// ErrInvalidEndpoint is returned when the endpoint is not an absolute
// http(s) URL.
var ErrInvalidEndpoint = errors.New("endpoint must be an absolute http or https URL")

// AttachURL returns the URL that opens session sessionID with tok, following
// the newest upstream semantics: the path /s/<id>/ (or /new when sessionID
// is empty) replaces any path, query or fragment of endpoint, the id is
// percent-encoded like encodeURIComponent, and the token is added as the
// nimbus_token query parameter. Unlike upstream, the endpoint's userinfo is
// not copied into the URL.
func AttachURL(endpoint, sessionID, tok string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", ErrInvalidEndpoint
	}
	p := "/new"
	if sessionID != "" {
		p = removeDotSegments("/s/" + encodeURIComponent(sessionID) + "/")
	}
	var b strings.Builder
	b.WriteString(u.Scheme)
	b.WriteString("://")
	// The endpoint's userinfo (a Worker behind basic auth) is left out,
	// unlike upstream's URL serialisation: the URL goes to a browser,
	// often someone else's, and the browser asks for the credentials.
	b.WriteString(canonicalHost(u))
	b.WriteString(p)
	b.WriteString("?" + token.QueryParam + "=")
	b.WriteString(formEncode(tok))
	return b.String(), nil
}

// Attach is a freshly minted token and the URL that uses it.
type Attach struct {
	// Token is the signed token. It is a credential: do not log it.
	Token string
	// URL opens the session with Token in its nimbus_token query
	// parameter, so it is as much a credential as Token.
	URL string
}

// MintAndAttach mints a token from in and returns it with its AttachURL. It
// does not pin the token to sessionID; set in.SessionID for that.
func MintAndAttach(is token.Issuer, in token.Input, endpoint, sessionID string) (*Attach, error) {
	if _, err := AttachURL(endpoint, sessionID, ""); err != nil {
		return nil, err
	}
	tok, err := is.Mint(in)
	if err != nil {
		return nil, err
	}
	u, err := AttachURL(endpoint, sessionID, tok)
	if err != nil {
		return nil, err
	}
	return &Attach{Token: tok, URL: u}, nil
}

// canonicalHost lowercases the host and drops the scheme's default port, as
// the WHATWG URL serializer does.
func canonicalHost(u *url.URL) string {
	host, port := u.Hostname(), u.Port()
	host = strings.ToLower(host)
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" || (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		return host
	}
	return host + ":" + port
}

// encodeURIComponent leaves only A-Z a-z 0-9 - _ . ! ~ * ' ( ) unescaped.
func encodeURIComponent(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

// formEncode is the application/x-www-form-urlencoded byte serializer used
// by URLSearchParams.
func formEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '*' || c == '-' || c == '.' || c == '_':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
	}
	return b.String()
}

// removeDotSegments resolves "." and ".." segments as URL parsing does, so
// a session id of ".." cannot produce a path outside /s/.
func removeDotSegments(p string) string {
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}
