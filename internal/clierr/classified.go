package clierr

import "errors"

// Classified is implemented by the typed errors of nimbus's libraries
// (pkg/provision, pkg/runtimesync, pkg/npmregistry, pkg/scaffold) that
// classify themselves: the library knows what each of its kinds means for
// the user, so no command keeps a second table of another package's kinds.
// Commands return such errors as they are and the root command renders
// them through From. ExitCode is one of internal/exitcode's.
type Classified interface {
	error
	// ExitCode is the process exit code.
	ExitCode() int
	// ErrorCode is the stable code for scripts (E_…).
	ErrorCode() string
	// ErrorHint says what to do about the error; "" when there is
	// nothing useful to add.
	ErrorHint() string
}

// From returns the *Error in err's chain or, failing that, a new *Error
// made from the outermost Classified error in it; ok is false when err
// holds neither. Whether an error is Plain is the command's choice (what
// upstream printed), so a new *Error is not.
func From(err error) (e *Error, ok bool) {
	if errors.As(err, &e) {
		return e, true
	}
	var c Classified
	if !errors.As(err, &c) {
		return nil, false
	}
	return Wrap(err, c.ExitCode(), c.ErrorCode(), c.Error(), c.ErrorHint()), true
}
