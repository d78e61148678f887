package token

import (
	"net/http"
	"strconv"

	"github.com/nimbus-sh/nimbus/internal/jsjson"
)

// Stable error codes, identical to upstream's.
const (
	// CodeAuthConfigMissing (HTTP 500): no JWT_SECRET is configured, at
	// issue or at verify.
	CodeAuthConfigMissing = "E_AUTH_CONFIG_MISSING"
	// CodeTokenMalformed (401): the token is missing or is not three
	// base64url parts with a JSON payload, or (nimbus's own check, after
	// the signature) its header does not say alg HS256.
	CodeTokenMalformed = "E_TOKEN_MALFORMED"
	// CodeTokenSignature (401): the HS256 signature does not match the
	// secret (or the previous secret while one is rotated out).
	CodeTokenSignature = "E_TOKEN_SIGNATURE"
	// CodeTokenClaims (401): the payload decodes but a claim is missing
	// or has the wrong shape.
	CodeTokenClaims = "E_TOKEN_CLAIMS"
	// CodeTokenExpired (401): exp is in the past; Error.ExpiredAgoSec
	// says by how much.
	CodeTokenExpired = "E_TOKEN_EXPIRED"
	// CodeTokenTTLTooLarge (400): a mint asked for a lifetime above the
	// maximum.
	CodeTokenTTLTooLarge = "E_TOKEN_TTL_TOO_LARGE"
	// CodeScopeMissing (403): the token has a scopes claim that lacks a
	// required scope; Error.RequiredScope names it.
	CodeScopeMissing = "E_SCOPE_MISSING"
	// CodeSessionPin (403): the token's sid pins it to another session
	// than the one the request targets.
	CodeSessionPin = "E_SESSION_PIN_MISMATCH"
	// CodeBootstrapConsumed (401): a single-use token (one with a jti)
	// was presented again.
	CodeBootstrapConsumed = "E_BOOTSTRAP_CONSUMED"
	// CodeAuthUnknown (500): an error that is not a Nimbus auth error
	// happened during auth; upstream's message is "Internal auth error".
	CodeAuthUnknown = "E_AUTH_UNKNOWN"
)

// Error is every failure of this package. Code and HTTPStatus match the
// upstream error class, Message matches its text byte for byte, and the
// extra fields are set for the classes that carry them.
type Error struct {
	// Code is one of the Code constants; match on it (or use errors.Is
	// with a sentinel), never on Message.
	Code string
	// HTTPStatus is the status a server answers with for this error (401,
	// 403, 400 or 500), as upstream's error class sets it.
	HTTPStatus int
	// Message is upstream's message, byte for byte, so a Go server's
	// answers match a Worker's.
	Message string

	// ExpiredAgoSec is set for E_TOKEN_EXPIRED: how many seconds ago the
	// token expired (fractional when exp is).
	ExpiredAgoSec float64
	// RequiredScope is set for E_SCOPE_MISSING.
	RequiredScope string
	// PinnedTo is set for E_SESSION_PIN_MISMATCH: the session id in the
	// token's sid claim.
	PinnedTo string
	// Attempted is set for E_SESSION_PIN_MISMATCH: the session id the
	// request targeted.
	Attempted string
	// Claim is set for E_TOKEN_CLAIMS: the claim that is wrong ("scope",
	// "tn", "sub", "sid", "jti", "iat" for iat or exp, "scopes"), or ""
	// when the payload is not a JSON object. Callers choose advice by it;
	// Message is upstream's text.
	Claim string

	cause error
}

// Sentinels for errors.Is; they match any *Error with the same code.
var (
	// ErrAuthConfigMissing matches CodeAuthConfigMissing.
	ErrAuthConfigMissing = &Error{Code: CodeAuthConfigMissing}
	// ErrTokenMalformed matches CodeTokenMalformed.
	ErrTokenMalformed = &Error{Code: CodeTokenMalformed}
	// ErrTokenSignature matches CodeTokenSignature.
	ErrTokenSignature = &Error{Code: CodeTokenSignature}
	// ErrTokenClaims matches CodeTokenClaims.
	ErrTokenClaims = &Error{Code: CodeTokenClaims}
	// ErrTokenExpired matches CodeTokenExpired.
	ErrTokenExpired = &Error{Code: CodeTokenExpired}
	// ErrTokenTTL matches CodeTokenTTLTooLarge.
	ErrTokenTTL = &Error{Code: CodeTokenTTLTooLarge}
	// ErrScopeMissing matches CodeScopeMissing.
	ErrScopeMissing = &Error{Code: CodeScopeMissing}
	// ErrSessionPin matches CodeSessionPin.
	ErrSessionPin = &Error{Code: CodeSessionPin}
)

// Error returns the upstream message; the code is in Code.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the underlying cause, if any (for example the URIError of
// a malformed cookie).
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is a sentinel with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Name returns the upstream error class name, e.g. "NimbusTokenExpiredError".
func (e *Error) Name() string {
	switch e.Code {
	case CodeAuthConfigMissing:
		return "NimbusAuthConfigError"
	case CodeTokenMalformed:
		return "NimbusTokenMalformedError"
	case CodeTokenSignature:
		return "NimbusTokenSignatureError"
	case CodeTokenClaims:
		return "NimbusTokenClaimsError"
	case CodeTokenExpired:
		return "NimbusTokenExpiredError"
	case CodeTokenTTLTooLarge:
		return "NimbusTokenTtlError"
	case CodeScopeMissing:
		return "NimbusScopeError"
	case CodeSessionPin:
		return "NimbusSessionPinError"
	case CodeBootstrapConsumed:
		return "NimbusBootstrapConsumedError"
	}
	return "NimbusAuthError"
}

const configMessage = "JWT_SECRET is not configured (set via `wrangler secret put JWT_SECRET`)"

func errConfig() *Error {
	return &Error{Code: CodeAuthConfigMissing, HTTPStatus: http.StatusInternalServerError, Message: configMessage}
}

func errMalformed(reason string) *Error {
	return &Error{Code: CodeTokenMalformed, HTTPStatus: http.StatusUnauthorized, Message: "Malformed token: " + reason}
}

// errHeader is nimbus's own refusal of a header that does not say alg
// HS256 (token.md, nimbus decisions b); upstream never reads the header.
func errHeader() *Error { return errMalformed("header alg must be HS256") }

func errSignature() *Error {
	return &Error{Code: CodeTokenSignature, HTTPStatus: http.StatusUnauthorized, Message: "Token signature invalid"}
}

func errClaims(claim, reason string) *Error {
	return &Error{Code: CodeTokenClaims, HTTPStatus: http.StatusUnauthorized, Message: "Invalid claims: " + reason, Claim: claim}
}

func errExpired(ago float64) *Error {
	return &Error{
		Code: CodeTokenExpired, HTTPStatus: http.StatusUnauthorized,
		Message:       "Token expired " + jsjson.FormatNumber(ago) + "s ago",
		ExpiredAgoSec: ago,
	}
}

func errTTL(ttlMs float64) *Error {
	return &Error{
		Code: CodeTokenTTLTooLarge, HTTPStatus: http.StatusBadRequest,
		Message: "Token TTL " + jsjson.FormatNumber(ttlMs) + "ms exceeds maximum " + strconv.FormatInt(MaxTTL.Milliseconds(), 10) + "ms",
	}
}

func errScope(scope string) *Error {
	return &Error{Code: CodeScopeMissing, HTTPStatus: http.StatusForbidden, Message: "Missing required scope: " + scope, RequiredScope: scope}
}

func errPin(pinned, attempted string) *Error {
	return &Error{
		Code: CodeSessionPin, HTTPStatus: http.StatusForbidden,
		Message:  `Token pinned to session "` + pinned + `" but request targets "` + attempted + `"`,
		PinnedTo: pinned, Attempted: attempted,
	}
}
