package token

import (
	"strconv"
	"strings"

	"github.com/nimbus-sh/nimbus/internal/jsjson"
)

// Decoded is a token's header and claims read WITHOUT checking the
// signature or any claim. Nothing in it may be trusted; it exists so people
// can look inside a token they are debugging.
type Decoded struct {
	// Header is the decoded JOSE header, in order.
	Header Claims
	// Claims is the decoded payload, in order. Its accessors return zero
	// values for claims that are missing or of the wrong type.
	Claims Claims
	// SignatureLen is the length of the decoded signature in bytes (32 for
	// a genuine HS256 token).
	SignatureLen int

	// header is the encoded header, for CheckUsable's header check.
	header string
}

// Decode splits tok and decodes its header and payload, requiring only
// that the token is well-formed: three parts, each strict base64url, the
// first two JSON objects. It never verifies; use Verifier for that.
//
// As Verify, it takes tok verbatim: white space around a token is part
// of it, and makes it malformed (see Trim).
func Decode(tok string) (*Decoded, error) {
	headerPart, payloadPart, sigPart, err := split(tok)
	if err != nil {
		return nil, err
	}
	header, err := decodeObject(headerPart, "header")
	if err != nil {
		return nil, err
	}
	claims, err := decodeObject(payloadPart, "payload")
	if err != nil {
		return nil, err
	}
	sig, ok := decodeSegment(sigPart)
	if !ok {
		return nil, errMalformed("signature is not base64url")
	}
	return &Decoded{Header: header, Claims: claims, SignatureLen: len(sig), header: headerPart}, nil
}

// split checks what Decode and Verify require of a token's shape (not
// empty, three dot-separated parts) and returns the parts. The token is
// taken verbatim, as upstream's verifyNimbusToken takes it: a space or a
// line break around it lands in the first or the last part, which is
// then not base64url (vector err_whitespace_in_sig).
func split(tok string) (header, payload, sig string, err error) {
	if tok == "" {
		return "", "", "", errMalformed("token must be a non-empty string")
	}
	if n := strings.Count(tok, ".") + 1; n != 3 {
		return "", "", "", errMalformed("expected 3 dot-separated parts, got " + strconv.Itoa(n))
	}
	dot1 := strings.IndexByte(tok, '.')
	dot2 := strings.LastIndexByte(tok, '.')
	return tok[:dot1], tok[dot1+1 : dot2], tok[dot2+1:], nil
}

// Trim returns s without the white space around it (a line break at its
// end, spaces, tabs) and without a byte order mark before it: the token
// that a text holding one stands for. It is the rule for every token a
// person hands over, as an argument, on standard input, in NIMBUS_TOKEN
// or a config file: a deployed Worker gets a token from the
// Authorization header, whose value HTTP trims, so what Trim removes
// never reaches it either. Decode and Verify take a token verbatim, as
// upstream's verifyNimbusToken does: Trim first what was typed.
func Trim(s string) string {
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "\ufeff"))
}

func decodeObject(part, what string) (Claims, error) {
	raw, ok := decodeSegment(part)
	if !ok {
		return Claims{}, errMalformed(what + " is not valid JSON: Invalid base64url input")
	}
	c, err := scanClaims(string(jsjson.DecodeUTF8Bytes(raw)))
	if err != nil {
		return Claims{}, errMalformed(what + " is not valid JSON: " + err.Error())
	}
	if c.kind != jsjson.Object {
		return Claims{}, errMalformed(what + " is not a JSON object")
	}
	return c, nil
}
