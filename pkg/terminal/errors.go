package terminal

import (
	"fmt"
	"time"
)

// Codes of the errors Attach returns. Credential refusals carry the
// server's own code instead (E_SCOPE_MISSING, E_TOKEN_EXPIRED,
// E_SESSION_PIN_MISMATCH…) with Status 401 or 403.
const (
	// CodeBusy: another terminal (probably a browser tab) holds the
	// session (409), and Options.Wait did not outlast it.
	CodeBusy = "E_TERMINAL_BUSY"
	// CodeTakenOver: another client took the session over (close 1001).
	CodeTakenOver = "E_TERMINAL_TAKEN_OVER"
	// CodeUnavailable: the server could not be reached, answered 5xx, or
	// the connection dropped and could not be restored in time.
	CodeUnavailable = "E_TERMINAL_UNAVAILABLE"
	// CodeHandshake: the server answered the upgrade with something this
	// protocol does not define (404, a redirect, 426…): not a Nimbus
	// terminal endpoint.
	CodeHandshake = "E_TERMINAL_HANDSHAKE"
	// CodeProtocol: the server sent what the protocol forbids (a message
	// beyond the read limit).
	CodeProtocol = "E_TERMINAL_PROTOCOL"
	// CodeClosedEarly: with piped input (Options.Terminal false), the
	// server ended the terminal (close 1000) before the work the input
	// asked for could be seen through: the input had not ended, or the
	// server had not confirmed receiving it, or a followed process
	// terminal had not reported its exit, or the session was destroyed
	// while its output went on. A success would report commands that
	// may never have run, or were killed, as done.
	CodeClosedEarly = "E_TERMINAL_CLOSED_EARLY"
	// CodeInterrupted: Ctrl-C was typed while not connected.
	CodeInterrupted = "E_INTERRUPTED"
	// CodeInput: reading the local input failed.
	CodeInput = "E_TERMINAL_INPUT"
	// CodeInvalidArgument: Options are unusable.
	CodeInvalidArgument = "E_INVALID_ARGUMENT"
)

// Error is a failure of Attach; use errors.As to read it.
type Error struct {
	// Code is one of the Code* constants or, for a refused credential,
	// the server's code.
	Code string
	// Message describes the failure; server messages are kept verbatim.
	Message string
	// Status is the HTTP status of a refused upgrade, else 0.
	Status int
	// CloseCode is the WebSocket close code that ended the session
	// (CodeTakenOver), else 0.
	CloseCode int
	// CloseReason is that close's reason text, else "".
	CloseReason string
	// RetryAfter is a 503's Retry-After, else zero.
	RetryAfter time.Duration
	// Err is the cause, if any.
	Err error
}

// Error returns the message and the cause.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Auth reports whether the server refused the credential (401 or 403).
func (e *Error) Auth() bool { return e.Status == 401 || e.Status == 403 }
