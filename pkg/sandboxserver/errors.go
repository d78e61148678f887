package sandboxserver

import (
	"net/http"
	"strconv"
)

// Wire codes this package answers with itself; backends use the same ones
// for the same failures.
const (
	// CodeArgShape (400) is an argument of the wrong type or shape: a
	// string where a number belongs, a refused cred, an invalid execId, a
	// bad app target.
	CodeArgShape = "E_ARG_SHAPE"
	// CodeRemoteRPC (500) is any failure inside an op once its arguments
	// were accepted (ENOENT, a failed install, a result that cannot be
	// encoded); the message carries the cause.
	CodeRemoteRPC = "E_NIMBUS_REMOTE_RPC"
	// CodeRemoteOp (400) is a missing or unknown op. Clients rely on it
	// to tell an older server that lacks execStream, and fall back to
	// exec.
	CodeRemoteOp = "E_REMOTE_OP"
	// CodeBadJSON is a body that is not a JSON object (400), or one
	// larger than the handler's MaxBody (413).
	CodeBadJSON = "E_BAD_JSON"
	// CodeSandboxID (400) is a sandbox id that fails the id rule.
	CodeSandboxID = "E_SANDBOX_ID"
	// CodeMethodNotAllowed (405) is a method other than POST on the rpc
	// route.
	CodeMethodNotAllowed = "E_METHOD_NOT_ALLOWED"
	// CodeOverloaded (503) is a backend that cannot take the call now
	// (out of processes or descriptors, shutting down), the Worker's
	// overloaded Durable Object; clients may retry later.
	CodeOverloaded = "E_NIMBUS_DO_OVERLOADED"
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

// ReadTooLarge is upstream's refusal of a read above the single-read
// limit: n is the size asked for or found, or -1 when only "more than
// limit" is known (a file that grew while it was read).
func ReadTooLarge(n, limit int64) *Error {
	size := strconv.FormatInt(n, 10)
	if n < 0 {
		size = "more than " + strconv.FormatInt(limit, 10)
	}
	return RPCError("filesystem RPC read payload of " + size + " bytes exceeds the " + strconv.FormatInt(limit, 10) + "-byte limit")
}

// UnknownOp is the 400 E_REMOTE_OP of an op the server does not implement.
func UnknownOp(op string) *Error {
	return NewError(http.StatusBadRequest, CodeRemoteOp, "Unknown Nimbus sandbox operation: "+op)
}
