package sandboxserver

import "net/http"

// Wire codes this package answers with itself; backends use the same ones
// for the same failures.
const (
	CodeArgShape         = "E_ARG_SHAPE"
	CodeRemoteRPC        = "E_NIMBUS_REMOTE_RPC"
	CodeRemoteOp         = "E_REMOTE_OP"
	CodeBadJSON          = "E_BAD_JSON"
	CodeSandboxID        = "E_SANDBOX_ID"
	CodeMethodNotAllowed = "E_METHOD_NOT_ALLOWED"
	CodeOverloaded       = "E_NIMBUS_DO_OVERLOADED"
)

// Error is a failure answered as the envelope
// {"ok":false,"error":Message,"code":Code} with HTTP status Status. It is
// also the error type of authentication, so token failures keep the
// status and code pkg/token gives them.
type Error struct {
	// Status is the HTTP status of the answer.
	Status int
	// Code is the stable wire code (E_…).
	Code string
	// Message is the envelope's "error" text.
	Message string
}

// Error returns the message, as the envelope's "error" member carries it.
func (e *Error) Error() string { return e.Message }

// NewError builds an Error.
func NewError(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// ArgError is the 400 E_ARG_SHAPE of an argument of the wrong shape.
func ArgError(message string) *Error {
	return NewError(http.StatusBadRequest, CodeArgShape, message)
}

// RPCError is the 500 E_NIMBUS_REMOTE_RPC every failure inside an op
// becomes on a Worker (the message carries the errno name first for
// filesystem failures).
func RPCError(message string) *Error {
	return NewError(http.StatusInternalServerError, CodeRemoteRPC, message)
}

// UnknownOp is the 400 E_REMOTE_OP of an op the server does not implement.
func UnknownOp(op string) *Error {
	return NewError(http.StatusBadRequest, CodeRemoteOp, "Unknown Nimbus sandbox operation: "+op)
}
