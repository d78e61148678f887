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
func Decode(tok string) (*Decoded, error) {
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return nil, errMalformed("token must be a non-empty string")
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errMalformed("expected 3 dot-separated parts, got " + strconv.Itoa(len(parts)))
	}
	header, err := decodeObject(parts[0], "header")
	if err != nil {
		return nil, err
	}
	claims, err := decodeObject(parts[1], "payload")
	if err != nil {
		return nil, err
	}
	sig, ok := decodeSegment(parts[2])
	if !ok {
		return nil, errMalformed("signature is not base64url")
	}
	return &Decoded{Header: header, Claims: claims, SignatureLen: len(sig), header: parts[0]}, nil
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
