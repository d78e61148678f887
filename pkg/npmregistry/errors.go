package npmregistry

import "github.com/nimbus-sh/nimbus/internal/errkind"

// Kind classifies an Error by what the caller can do about it; it is
// the kind all of nimbus's libraries share, and ExitCode gives its exit
// code.
type Kind = errkind.Kind

// The kinds the registry client returns.
const (
	// KindUnavailable means the registry could not be reached or failed
	// (transport error, 408, 429, 5xx) even after retries.
	KindUnavailable = errkind.Unavailable
	// KindNotFound means the registry has no such package (404).
	KindNotFound = errkind.NotFound
	// KindIntegrity means a tarball did not match dist.integrity, or the
	// version carries no usable integrity: bad data (65).
	KindIntegrity = errkind.Data
	// KindInvalid means the registry answered something that is not a
	// packument or refused access (401, 403: nimbus sends no credentials),
	// or a URL or size is unacceptable: the registry setting needs fixing
	// (78).
	KindInvalid = errkind.Config
	// KindInterrupted means the caller's context was cancelled.
	KindInterrupted = errkind.Interrupted
)

// Stable error codes.
const (
	// CodeUnavailable goes with KindUnavailable.
	CodeUnavailable = "E_NPM_UNAVAILABLE"
	// CodeNotFound goes with KindNotFound.
	CodeNotFound = "E_NPM_NOT_FOUND"
	// CodeIntegrity goes with KindIntegrity.
	CodeIntegrity = "E_NPM_INTEGRITY"
	// CodeInvalid goes with KindInvalid.
	CodeInvalid = "E_NPM_INVALID"
	// CodeInterrupted goes with KindInterrupted.
	CodeInterrupted = "E_INTERRUPTED"
)

// Error is the only error type the package returns.
type Error struct {
	// Kind says what the caller can do about the failure.
	Kind Kind
	// Code is the Code constant that goes with Kind, stable for scripts.
	Code string
	// Message says what failed, naming the package or URL.
	Message string
	// Hint says what to do about it; empty when there is nothing useful
	// to add.
	Hint string
	// Status is the HTTP status behind the error, or 0.
	Status int
	// Err is the underlying cause (a transport or decoding error), if
	// any.
	Err error
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ExitCode is the sysexits(3) status of e's Kind: 69 for a registry
// that failed or lacks the package (another registry, or later, may have
// it), 65 for a tarball that fails its integrity, 78 for an answer or
// setting that cannot be used, 130 when interrupted.
func (e *Error) ExitCode() int { return e.Kind.ExitCode() }

// ErrorCode returns Code.
func (e *Error) ErrorCode() string { return e.Code }

// ErrorHint returns Hint.
func (e *Error) ErrorHint() string { return e.Hint }

// AsError reports whether err is (or wraps) an *Error.
func AsError(err error) (*Error, bool) { return errkind.As[*Error](err) }
