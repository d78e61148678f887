// Package tokencli holds what the token commands share with other
// commands that mint or verify tokens: how token errors map to exit codes
// and hints, where secrets come from, and how verified tokens are shown.
package tokencli

import (
	"errors"
	"strings"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/shellquote"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// Error maps a pkg/token error to the CLI error upstream's CLI would have
// produced: exit 65 for token and claim problems, 70 for 500-class ones,
// with the upstream code and message, plus a hint for people. A hint that
// says to mint a token writes the tenant as the placeholder T: use
// ErrorMinting where the token's claims are known.
func Error(err error) error {
	return ErrorMinting(err, MintCommand(token.Claims{}, ""))
}

// ErrorMinting is Error whose hints that say to mint a token name mint, a
// whole nimbus token mint command (MintCommand), to be pasted as it is.
func ErrorMinting(err error, mint string) error {
	var te *token.Error
	if !errors.As(err, &te) {
		return err
	}
	exit := exitcode.DataErr
	if te.HTTPStatus >= 500 {
		exit = exitcode.Software
	}
	return clierr.Wrap(err, exit, te.Code, te.Message, hint(te, mint))
}

// MintCommand is the nimbus token mint command that mints the token whose
// claims are c afresh: its tenant (T, which mint requires, when it has
// none to repeat), subject, scopes and pin, signed with secretFile when
// the failed command read the secret from one ("": JWT_SECRET, as mint
// does). The claims' ids are repeated only when mint would take them
// (token.IsIDComponent), and scopes are quoted, without any that holds a
// ',' (it would split the list); no scopes claim gives no --scopes (full
// trust, as the token had).
func MintCommand(c token.Claims, secretFile string) string {
	cmd := "nimbus token mint --tenant "
	if tn := c.Tenant(); tn != "" && token.IsIDComponent(tn) {
		cmd += tn
	} else {
		cmd += "T"
	}
	if sub, ok := c.Subject(); ok && token.IsIDComponent(sub) {
		cmd += " --sub " + sub
	}
	if scopes, ok := c.Scopes(); ok {
		keep := make([]string, 0, len(scopes))
		for _, sc := range scopes {
			if sc = strings.TrimSpace(sc); sc != "" && !strings.Contains(sc, ",") {
				keep = append(keep, sc)
			}
		}
		if len(keep) == 0 {
			// An empty list granted nothing, and mint refuses one
			// (--scopes ""); leaving --scopes out would mint full
			// trust: the scope every sandbox command needs.
			keep = append(keep, token.ScopeSandboxUse)
		}
		cmd += " --scopes " + shellquote.Quote(strings.Join(keep, ","))
	}
	if sid, ok := c.SessionID(); ok && token.IsIDComponent(sid) {
		cmd += " --sid " + sid
	}
	if secretFile != "" {
		cmd += " --secret-file " + shellquote.Quote(secretFile)
	}
	return cmd
}

// hint is the advice shown with a token error; mint is the command that
// mints a token in its place.
func hint(te *token.Error, mint string) string {
	switch te.Code {
	case token.CodeAuthConfigMissing:
		return "set JWT_SECRET in the environment or pass --secret-file"
	case token.CodeTokenMalformed:
		return "pass the whole token: three base64url parts separated by dots"
	case token.CodeTokenSignature:
		return "the token was signed with another secret: check JWT_SECRET (or --secret-file), and during a rotation JWT_SECRET_PREVIOUS (or --previous-secret-file)"
	case token.CodeTokenClaims:
		return claimsHint(te.Claim, mint)
	case token.CodeTokenExpired:
		return "mint a new token: " + mint
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
func claimsHint(claim, mint string) string {
	switch claim {
	case "scope":
		return `the token was not minted for a Nimbus session (its scope claim must be "nimbus"); mint one: ` + mint
	case "iat":
		return "iat and exp must be JSON numbers of seconds since 1970; mint a token: " + mint
	case "scopes":
		return `scopes must be a JSON array of strings such as ["sandbox:use"]; mint with --scopes`
	case "":
		return "the token's payload must be a JSON object of claims; mint a token: " + mint
	}
	return "tenant, subject, sid and jti may only use letters, digits, '.', '_' and '-' (1 to 128 characters)"
}
