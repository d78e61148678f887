// Package tokencli holds what the token commands share with other
// commands that mint or verify tokens: how token errors map to exit codes
// and hints, where secrets come from, and how verified tokens are shown.
package tokencli

import (
	"errors"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// Error maps a pkg/token error to the CLI error upstream's CLI would have
// produced: exit 65 for token and claim problems, 70 for 500-class ones,
// with the upstream code and message, plus a hint for people.
func Error(err error) error {
	var te *token.Error
	if !errors.As(err, &te) {
		return err
	}
	exit := exitcode.DataErr
	if te.HTTPStatus >= 500 {
		exit = exitcode.Software
	}
	return clierr.Wrap(err, exit, te.Code, te.Message, hint(te))
}

// hint is the advice shown with a token error.
func hint(te *token.Error) string {
	switch te.Code {
	case token.CodeAuthConfigMissing:
		return "set JWT_SECRET in the environment or pass --secret-file"
	case token.CodeTokenMalformed:
		return "pass the whole token: three base64url parts separated by dots"
	case token.CodeTokenSignature:
		return "the token was signed with another secret: check JWT_SECRET (or --secret-file), and during a rotation JWT_SECRET_PREVIOUS (or --previous-secret-file)"
	case token.CodeTokenClaims:
		return claimsHint(te.Claim)
	case token.CodeTokenExpired:
		return "mint a new token with 'nimbus token mint'"
	case token.CodeTokenTTLTooLarge:
		return "use a ttl above zero and at most 30 days (2592000 seconds or 720h)"
	case token.CodeScopeMissing:
		return "mint a token that includes the scope, e.g. --scopes sandbox:use"
	case token.CodeSessionPin:
		return "mint a token pinned to this id (--sid) or without a pin"
	}
	return ""
}

// claimsHint is the advice for a wrong claim: only ids have a character
// rule; the other claims are wrong in shape, which 'nimbus token mint'
// never produces.
func claimsHint(claim string) string {
	switch claim {
	case "scope":
		return `the token was not minted for a Nimbus session (its scope claim must be "nimbus"); mint one with 'nimbus token mint'`
	case "iat":
		return "iat and exp must be JSON numbers of seconds since 1970; mint a token with 'nimbus token mint'"
	case "scopes":
		return `scopes must be a JSON array of strings such as ["sandbox:use"]; mint with --scopes`
	case "":
		return "the token's payload must be a JSON object of claims; mint a token with 'nimbus token mint'"
	}
	return "tenant, subject, sid and jti may only use letters, digits, '.', '_' and '-' (1 to 128 characters)"
}
