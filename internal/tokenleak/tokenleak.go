// Package tokenleak helps tests check that a bearer token does not reach
// an error message: the forms in which a server or a proxy may quote a
// token, and a search for any of them in a text. It shares no code with
// the redaction it checks (sandboxclient.RedactToken).
package tokenleak

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Token is an HS256 JWT-shaped token whose parts are easy to spot.
const Token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." +
	"eyJ0biI6ImFjbWUiLCJzdWIiOiJjaSIsInNjb3BlcyI6WyJzYW5kYm94OnVzZSJdfQ." +
	"c2VjcmV0LXNpZ25hdHVyZS1ieXRlcy0wMTIzNDU2Nzg5YWJj"

// Form is one way of quoting a token.
type Form struct {
	Name, Text string
}

// Forms returns the ways a server may repeat tok (a JWT): whole,
// percent-encoded (its dots, or every byte), JSON- and HTML-escaped,
// its signature alone (also HTML-escaped), its payload and signature, and cut (after the
// header and part of the payload, or inside the signature).
func Forms(tok string) []Form {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		panic("tokenleak: not a JWT")
	}
	var pct, uesc strings.Builder
	for i := 0; i < len(tok); i++ {
		fmt.Fprintf(&pct, "%%%02x", tok[i])
		fmt.Fprintf(&uesc, `\u%04X`, tok[i])
	}
	return []Form{
		{"whole", tok},
		{"dots %2E", strings.ReplaceAll(tok, ".", "%2E")},
		{"every byte %xx", pct.String()},
		{"JSON \\u", uesc.String()},
		{"HTML &#x;", htmlOf(tok)},
		{"signature", parts[2]},
		{"signature HTML &#x;", htmlOf(parts[2])},
		{"payload.signature", parts[1] + "." + parts[2]},
		{"header.payload cut", parts[0] + "." + parts[1][:len(parts[1])-10]},
		{"cut in the signature", tok[:len(tok)-len(parts[2])/2]},
	}
}

func htmlOf(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "&#x%x;", s[i])
	}
	return b.String()
}

var escapes = regexp.MustCompile(`%[0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|&#[xX][0-9a-fA-F]+;|&#[0-9]+;`)

// Find returns a piece of tok's payload or signature (10 characters or
// more, read through percent, JSON and HTML escapes) that text holds, or
// "". The header of a JWT is not secret and not looked for.
func Find(text, tok string) string {
	plain := escapes.ReplaceAllStringFunc(text, func(e string) string {
		var v uint64
		var err error
		switch {
		case e[0] == '%':
			v, err = strconv.ParseUint(e[1:], 16, 8)
		case e[0] == '\\':
			v, err = strconv.ParseUint(e[2:], 16, 16)
		case e[2] == 'x' || e[2] == 'X':
			v, err = strconv.ParseUint(e[3:len(e)-1], 16, 16)
		default:
			v, err = strconv.ParseUint(e[2:len(e)-1], 10, 16)
		}
		if err != nil || v >= 0x80 {
			return e
		}
		return string(rune(v))
	})
	plain = strings.ReplaceAll(plain, `\/`, "/")
	secret := tok[strings.IndexByte(tok, '.')+1:]
	const piece = 10
	for i := 0; i+piece <= len(secret); i++ {
		if strings.Contains(plain, secret[i:i+piece]) {
			return secret[i : i+piece]
		}
	}
	return ""
}
