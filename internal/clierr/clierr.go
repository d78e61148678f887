// Package clierr defines the error value that commands return so that the
// root command can render it consistently (cli.md "Errors") and exit with the
// right code from one place.
package clierr

import (
	"fmt"

	"github.com/nimbus-sh/nimbus/internal/exitcode"
)

// Stable codes for failures that originate in the CLI itself rather than in
// a library or a remote service.
const (
	CodeUsage         = "E_USAGE"
	CodeConfigMissing = "E_CONFIG_MISSING"
	CodeInternal      = "E_INTERNAL"
	CodeIO            = "E_IO"
)

// Error is a failure a command reports to the user. Exit is the process exit
// code; Code is the stable machine-readable code; Hint says what to do about
// it. Plain marks errors that upstream printed as a bare
// "<command path>: <message>" line instead of JSON, so that scripts written
// against upstream keep seeing the same bytes when stderr is not a terminal.
type Error struct {
	Exit    int
	Code    string
	Message string
	Hint    string
	Plain   bool
	Err     error

	silent bool
}

// New returns an Error with the given exit code, stable code, message and hint.
func New(exit int, code, msg, hint string) *Error {
	return &Error{Exit: exit, Code: code, Message: msg, Hint: hint}
}

// Usagef returns a usage error (exit 64), printed plainly like upstream's
// argument errors.
func Usagef(format string, args ...any) *Error {
	return &Error{Exit: exitcode.Usage, Code: CodeUsage, Message: fmt.Sprintf(format, args...), Plain: true}
}

// Configf returns a missing-configuration error (exit 78) with a hint.
func Configf(hint, format string, args ...any) *Error {
	return &Error{Exit: exitcode.Config, Code: CodeConfigMissing, Message: fmt.Sprintf(format, args...), Hint: hint, Plain: true}
}

// Wrap returns an Error that keeps err as its cause.
func Wrap(err error, exit int, code, msg, hint string) *Error {
	return &Error{Exit: exit, Code: code, Message: msg, Hint: hint, Err: err}
}

// WithHint sets the hint and returns e, so constructors can be chained.
func (e *Error) WithHint(h string) *Error {
	e.Hint = h
	return e
}

// Error returns the message; the code and hint are rendered separately.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }
