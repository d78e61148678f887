package clierr

// Status returns an error that only sets the exit code: nothing is printed.
// `nimbus sandbox exec` uses it to pass the remote command's exit code
// through after the command's own output has been streamed.
func Status(exit int) *Error {
	return &Error{Exit: exit, silent: true}
}

// Silent reports whether e carries only an exit status.
func (e *Error) Silent() bool { return e.silent }
