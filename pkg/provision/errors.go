package provision

import "errors"

// Kind classifies an Error by what the user has to do about it, so the CLI can
// map it onto a sysexits code without inspecting messages.
type Kind int

const (
	// KindInternal is a bug or an unexpected answer from Cloudflare (exit 70).
	KindInternal Kind = iota
	// KindPermission means the token is invalid, inactive or lacks a
	// permission (exit 77).
	KindPermission
	// KindConfig means something must be configured first: the account id,
	// R2, a deployed Worker (exit 78).
	KindConfig
	// KindUnavailable means Cloudflare or the network failed even after
	// retries (exit 69).
	KindUnavailable
	// KindData means an input file or value is malformed (exit 65).
	KindData
	// KindUsage means the plan itself is invalid, e.g. a bucket name that R2
	// would reject (exit 64).
	KindUsage
	// KindCantCreate means a local file could not be written (exit 73).
	KindCantCreate
	// KindInterrupted means the caller cancelled the context (exit 130).
	KindInterrupted
)

// Stable error codes. Codes that mirror a Cloudflare error are the bare
// Cloudflare number, as cli.md asks; the rest are nimbus codes.
const (
	CodeTokenInvalid     = "E_CF_TOKEN_INVALID"
	CodeTokenInactive    = "E_CF_TOKEN_INACTIVE"
	CodePermission       = "E_CF_PERMISSION"
	CodeAccountInvalid   = "E_CF_ACCOUNT_INVALID"
	CodeAccountNotFound  = "E_CF_ACCOUNT_NOT_FOUND"
	CodeAccountAmbiguous = "E_CF_ACCOUNT_AMBIGUOUS"
	CodeNoAccount        = "E_CF_NO_ACCOUNT"
	CodeR2NotEnabled     = "10042"
	CodeWorkerMissing    = "10007"
	CodeUnavailable      = "E_CF_UNAVAILABLE"
	CodeInterrupted      = "E_INTERRUPTED"
	CodeAPI              = "E_CF_API"
	CodeBucketName       = "E_BUCKET_NAME"
	CodeWorkerName       = "E_WORKER_NAME"
	CodeWranglerConfig   = "E_WRANGLER_CONFIG"
	CodeNimbusConfig     = "E_NIMBUS_CONFIG"
	CodeWriteFile        = "E_WRITE_FILE"
	CodeSecretInvalid    = "E_SECRET_INVALID"
	CodeInvalidPlan      = "E_PLAN_INVALID"
)

// Error is the only error type Run returns. Message and Hint never contain
// the API token or a secret value.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Hint    string
	// CloudflareCode is the first Cloudflare error code behind this error, or 0.
	CloudflareCode int64
	// Permission names the Cloudflare token permission that was missing, when
	// Kind is KindPermission because of a 403.
	Permission string
	Err        error
}

// Error returns Message only: the wrapped cloudflare-go error embeds request
// URLs and raw response bodies, which belong in debugging, not in user output.
func (e *Error) Error() string { return e.Message }

// Unwrap exposes the underlying cause (often a cloudflare-go *r2.Error).
func (e *Error) Unwrap() error { return e.Err }

// AsError reports whether err is (or wraps) a *Error and returns it.
func AsError(err error) (*Error, bool) {
	var pe *Error
	if errors.As(err, &pe) {
		return pe, true
	}
	return nil, false
}
