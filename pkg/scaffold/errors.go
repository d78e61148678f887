package scaffold

import (
	"fmt"

	"github.com/nimbus-sh/nimbus/internal/exitcode"
)

// Stable error codes carried by *Error (Error.ExitCode gives each its exit
// code); the strings are part of the CLI's machine interface and must not
// change.
const (
	// CodeNameRequired: the Worker name is empty (upstream: "`name` is required").
	CodeNameRequired = "E_NAME_REQUIRED"
	// CodeInvalidWorkerName: the Worker name breaks Cloudflare's naming rules.
	CodeInvalidWorkerName = "E_INVALID_WORKER_NAME"
	// CodeInvalidBucketName: a derived or explicit R2 bucket name is invalid.
	CodeInvalidBucketName = "E_INVALID_BUCKET_NAME"
	// CodeInvalidPackageName: the project directory name is not a valid npm package name.
	CodeInvalidPackageName = "E_INVALID_PACKAGE_NAME"
	// CodeInvalidOption: a builder option is out of range or malformed.
	CodeInvalidOption = "E_INVALID_OPTION"
	// CodeUnknownTemplate: the requested project template does not exist.
	CodeUnknownTemplate = "E_UNKNOWN_TEMPLATE"
	// CodeTargetNotEmpty: the target directory has entries and force was not set.
	CodeTargetNotEmpty = "E_DIR_NOT_EMPTY"
	// CodeTargetConflict: something on disk blocks a file init must write
	// (a directory where a file goes, a file where a directory goes).
	CodeTargetConflict = "E_TARGET_CONFLICT"
	// CodeWriteFailed: writing the project failed; everything written was rolled back.
	CodeWriteFailed = "E_WRITE_FAILED"
)

// Error is the typed error returned by this package. Use errors.As to get it
// and switch on Code; Message is a complete sentence for humans and Hint, when
// set, says what to do about it.
type Error struct {
	// Code is one of the Code* constants.
	Code string
	// Message describes the problem.
	Message string
	// Hint tells the user how to fix it, naming the CLI flag where one exists.
	Hint string
	// Flag is the CLI flag whose value caused the problem or fixes it, if any
	// (for example "--bucket-prefix").
	Flag string
	// Paths lists the files involved, relative to the target directory
	// (for CodeTargetNotEmpty: the entries that are in the way).
	Paths []string
	// Err is the underlying cause, if any.
	Err error
}

// Error returns the message followed by the cause, if any.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

// Unwrap returns the underlying cause so errors.Is works through *Error.
func (e *Error) Unwrap() error { return e.Err }

// ExitCode is the sysexits(3) status of e's Code: bad names and options
// are usage errors (64), a directory that cannot take the project is
// "cannot create" (73), a git without a user identity is configuration
// (78), and failing child tools or anything else are software errors (70).
func (e *Error) ExitCode() int {
	switch e.Code {
	case CodeNameRequired, CodeInvalidWorkerName, CodeInvalidBucketName, CodeInvalidPackageName,
		CodeInvalidOption, CodeUnknownTemplate:
		return exitcode.Usage
	case CodeTargetNotEmpty, CodeTargetConflict, CodeWriteFailed:
		return exitcode.CantCreate
	case CodeGitIdentity:
		return exitcode.Config
	}
	return exitcode.Software
}

// ErrorCode returns Code.
func (e *Error) ErrorCode() string { return e.Code }

// ErrorHint returns Hint.
func (e *Error) ErrorHint() string { return e.Hint }

func optionError(flag, hint, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidOption, Message: fmt.Sprintf(format, args...), Hint: hint, Flag: flag}
}
