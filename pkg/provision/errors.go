package provision

import (
	"github.com/nimbus-sh/nimbus/internal/atomicfile"
	"github.com/nimbus-sh/nimbus/internal/errkind"
)

// Kind classifies an Error by what the user has to do about it; it is the
// kind all of nimbus's libraries share, and ExitCode gives its sysexits
// code, so no caller inspects messages.
type Kind = errkind.Kind

// The kinds Run returns.
const (
	// KindInternal is a bug or an unexpected answer from Cloudflare (exit 70).
	KindInternal = errkind.Internal
	// KindPermission means the token is invalid, inactive or lacks a
	// permission (exit 77).
	KindPermission = errkind.Permission
	// KindConfig means something must be configured first: the account id,
	// R2, a deployed Worker (exit 78).
	KindConfig = errkind.Config
	// KindUnavailable means Cloudflare or the network failed even after
	// retries (exit 69).
	KindUnavailable = errkind.Unavailable
	// KindData means an input file or value is malformed (exit 65).
	KindData = errkind.Data
	// KindUsage means the plan itself is invalid, e.g. a bucket name that R2
	// would reject (exit 64).
	KindUsage = errkind.Usage
	// KindCantCreate means a local file could not be written (exit 73).
	KindCantCreate = errkind.CantCreate
	// KindInterrupted means the caller cancelled the context (exit 130).
	KindInterrupted = errkind.Interrupted
	// KindOSErr means the operating system failed: no random bytes for a
	// generated secret (exit 71).
	KindOSErr = errkind.OSErr
)

// Stable error codes. Codes that mirror a Cloudflare error are the bare
// Cloudflare number, as cli.md asks; the rest are nimbus codes.
const (
	// CodeTokenInvalid: Cloudflare rejected the API token (401), or it
	// holds a character no API token has.
	CodeTokenInvalid = "E_CF_TOKEN_INVALID"
	// CodeTokenMissing: no API token was given (empty or blank). It is
	// the code nimbus gives every missing setting (a CLOUDFLARE_API_TOKEN
	// that is not set included), so a script sees one code for one
	// condition.
	CodeTokenMissing = "E_CONFIG_MISSING"
	// CodeTokenInactive: the token verifies but is not active (disabled
	// or expired).
	CodeTokenInactive = "E_CF_TOKEN_INACTIVE"
	// CodePermission: the token lacks a permission (403);
	// Error.Permission names it when known.
	CodePermission = "E_CF_PERMISSION"
	// CodeAccountInvalid: the account id is not 32 hexadecimal
	// characters.
	CodeAccountInvalid = "E_CF_ACCOUNT_INVALID"
	// CodeAccountNotFound: the token cannot access the given account
	// (Cloudflare 9109).
	CodeAccountNotFound = "E_CF_ACCOUNT_NOT_FOUND"
	// CodeAccountMismatch: the account id given is not the wrangler
	// config's account_id, and replacing it was not asked for
	// (Plan.ReplaceAccountID).
	CodeAccountMismatch = "E_CF_ACCOUNT_MISMATCH"
	// CodeAccountAmbiguous: no account id was given and the token reaches
	// several accounts.
	CodeAccountAmbiguous = "E_CF_ACCOUNT_AMBIGUOUS"
	// CodeNoAccount: the token reaches no account at all.
	CodeNoAccount = "E_CF_NO_ACCOUNT"
	// CodeR2NotEnabled is Cloudflare's 10042: R2 has not been enabled on
	// the account (a one-time dashboard step).
	CodeR2NotEnabled = "10042"
	// CodeWorkerMissing is Cloudflare's 10007: the Worker is not deployed
	// yet, so its secret cannot be set.
	CodeWorkerMissing = "10007"
	// CodeUnavailable: the Cloudflare API timed out, could not be
	// reached, or answered 429 or 5xx after the retries.
	CodeUnavailable = "E_CF_UNAVAILABLE"
	// CodeTimeout: the run did not finish within Plan.Timeout.
	CodeTimeout = "E_SETUP_TIMEOUT"
	// CodeInterrupted: the context was cancelled.
	CodeInterrupted = "E_INTERRUPTED"
	// CodeAPI: any other Cloudflare error; Error.CloudflareCode carries
	// its number.
	CodeAPI = "E_CF_API"
	// CodeBucketName: a bucket name R2 would reject.
	CodeBucketName = "E_BUCKET_NAME"
	// CodeWorkerName: the Worker name is missing or invalid.
	CodeWorkerName = "E_WORKER_NAME"
	// CodeWranglerConfig: the wrangler config cannot be read, parsed or
	// updated.
	CodeWranglerConfig = "E_WRANGLER_CONFIG"
	// CodeNimbusConfig: nimbus.yaml cannot be read or the endpoint cannot
	// be recorded in it.
	CodeNimbusConfig = "E_NIMBUS_CONFIG"
	// CodeWriteFile: a local file could not be written.
	CodeWriteFile = "E_WRITE_FILE"
	// CodeSecretInvalid: the JWT secret is not one line of at least
	// token.MinSecretLength characters.
	CodeSecretInvalid = "E_SECRET_INVALID"
	// CodeSecretUnreadable: the secret file exists but cannot be read (a
	// directory, permission denied): the code `nimbus token` gives the
	// same --secret-file, so that a script tells a file to fix from a
	// secret to replace by the code alone.
	CodeSecretUnreadable = "E_IO"
	// CodeRandomUnavailable: no random bytes could be read to generate
	// the secret (Provisioner.Rand, crypto/rand by default, failed).
	CodeRandomUnavailable = "E_RANDOM_UNAVAILABLE"
	// CodeSecretExists: no secret was given and the Worker already has
	// one, which a generated secret would replace with a value only this
	// machine knows.
	CodeSecretExists = "E_SECRET_EXISTS"
	// CodeSecretLegacyFile: the Worker already has the secret and the
	// generated secret is only in the file older versions kept per Worker
	// name, which does not say which account it was made for.
	CodeSecretLegacyFile = "E_SECRET_LEGACY_FILE"
	// CodeInvalidPlan: the inputs contradict each other (--name against
	// the wrangler file's name) or a base URL is invalid.
	CodeInvalidPlan = "E_PLAN_INVALID"
)

// Error is the only error type Run returns. Message and Hint never contain
// the API token or a secret value.
type Error struct {
	// Kind says what the user has to do, and with it the exit status.
	Kind Kind
	// Code is one of the Code constants, stable for scripts.
	Code string
	// Message says what failed; it never contains the API token or a
	// secret.
	Message string
	// Hint says what to do about it; empty when there is nothing useful
	// to add.
	Hint string
	// CloudflareCode is the first Cloudflare error code behind this error, or 0.
	CloudflareCode int64
	// Permission names the Cloudflare token permission that was missing, when
	// Kind is KindPermission because of a 403.
	Permission string
	// Err is the underlying cause, often a cloudflare-go *r2.Error; its
	// text may hold request URLs and raw bodies, so it is for debugging,
	// not for users.
	Err error
}

// Error returns Message only: the wrapped cloudflare-go error embeds request
// URLs and raw response bodies, which belong in debugging, not in user output.
func (e *Error) Error() string { return e.Message }

// Unwrap exposes the underlying cause (often a cloudflare-go *r2.Error).
func (e *Error) Unwrap() error { return e.Err }

// ExitCode is the sysexits(3) status of e's Kind (see the Kind
// constants).
func (e *Error) ExitCode() int { return e.Kind.ExitCode() }

// ErrorCode returns Code.
func (e *Error) ErrorCode() string { return e.Code }

// ErrorHint returns Hint.
func (e *Error) ErrorHint() string { return e.Hint }

// AsError reports whether err is (or wraps) a *Error and returns it.
func AsError(err error) (*Error, bool) { return errkind.As[*Error](err) }

// invalidAccountID is the one error of a malformed account id, wherever
// it is found: a configuration error (78), as docs/setup.md lists it.
func invalidAccountID(id string) *Error {
	return &Error{Kind: KindConfig, Code: CodeAccountInvalid,
		Message: "invalid Cloudflare account id " + quote(id),
		Hint:    "an account id is 32 hexadecimal characters; find it in the dashboard sidebar or omit it to use the token's only account"}
}

// writeError is the failure to write a local file (a secret file,
// wrangler.jsonc, nimbus.yaml).
// configWrite is how setup writes the wrangler config it edits: through a
// symlink, an existing file keeping its mode and a new one getting 0644
// less the umask, and synced, since a person would have to recreate the
// file by hand if a power loss emptied it (see atomicfile.Options.Sync).
var configWrite = atomicfile.Options{Perm: 0o644, Sync: true}

func writeError(path string, err error) *Error {
	return &Error{Kind: KindCantCreate, Code: CodeWriteFile, Message: "cannot write " + path, Err: err,
		Hint: "check that the directory exists and is writable"}
}
