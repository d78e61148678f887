package sandboxclient

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Client-side error codes. Server codes (E_SCOPE_MISSING, …) arrive verbatim
// in RemoteError.Code; these name failures detected by the client itself so
// that callers can branch on them with errors.As.
const (
	// CodeAPINotEnabled: a 3xx or non-JSON answer where JSON was expected.
	CodeAPINotEnabled = "E_REMOTE_API_NOT_ENABLED"
	// CodeTransport: the request could not be sent or the answer not read.
	CodeTransport = "E_TRANSPORT"
	// CodeBadResponse: the answer was JSON but not a valid envelope or
	// result, or its headers exceeded MaxResponseHeaderBytes, or (over
	// HTTP/2) its frames broke the protocol, which net/http reports as it
	// reports most headers over the bound.
	CodeBadResponse = "E_BAD_RESPONSE"
	// CodeFileChanged: a file read in chunks ended before the size its
	// stat gave (it shrank while it was read).
	CodeFileChanged = "E_FILE_CHANGED"
	// CodeStreamTruncated: the exec stream ended without an exit or error frame.
	CodeStreamTruncated = "E_EXEC_STREAM_TRUNCATED"
	// CodeStreamProtocol: the exec stream carried an unknown kind or bad JSON.
	CodeStreamProtocol = "E_EXEC_STREAM_PROTOCOL"
	// CodeExecFailed: the server ended the exec stream with an error frame.
	CodeExecFailed = "E_EXEC_FAILED"
	// CodeTimeout: a command given a Timeout did not end within it plus
	// CommandGrace, and the Worker did not report it: the client gave up
	// (closing the stream cancels the command). The error wraps
	// context.DeadlineExceeded.
	CodeTimeout = "E_TIMEOUT"
	// CodeWriteTooLarge: a write exceeds the single-request limit.
	CodeWriteTooLarge = "E_WRITE_TOO_LARGE"
	// CodeInvalidArgument: an argument failed a local check before sending.
	CodeInvalidArgument = "E_INVALID_ARGUMENT"
	// CodeInvalidToken: the token cannot be sent (control characters).
	CodeInvalidToken = "E_TOKEN_INVALID"
	// CodeSandboxID mirrors the server code for an invalid sandbox id, which
	// the client checks before sending, as the SDK does.
	CodeSandboxID = "E_SANDBOX_ID"
	// CodeRemoteOp is the server code for an unknown operation (old servers
	// answer it for execStream).
	CodeRemoteOp = "E_REMOTE_OP"
	// CodeRemoteRPC is the server code wrapping anything the session threw,
	// filesystem errno errors included.
	CodeRemoteRPC = "E_NIMBUS_REMOTE_RPC"
)

// StatusCode is the code nimbus reports for an error answer that names
// none: E_HTTP_ and the answer's HTTP status (E_HTTP_502, E_HTTP_401). It
// starts with E_ as every other code does, and every command (the RPC
// commands, session attach) reports the same answer with the same code.
func StatusCode(status int) string {
	return fmt.Sprintf("E_HTTP_%d", status)
}

// RemoteError is a failure envelope {"ok":false,"error","code"} answered by
// the Worker.
type RemoteError struct {
	// Op is the operation that failed ("" for non-RPC routes).
	Op string
	// Status is the HTTP status code.
	Status int
	// Code is the server's stable code, e.g. E_SCOPE_MISSING.
	Code string
	// Message is the server's message text, preserved verbatim.
	Message string
	// RetryAfter is the parsed Retry-After header of a 503, zero otherwise.
	RetryAfter time.Duration
	// Host is the host[:port] of the server that answered, from the URL
	// of the request it answered (no user:password@), or "" when not
	// known: the same refusal calls for other advice from a server on
	// this machine (nimbus dev) than from a Worker.
	Host string
}

// Error returns the server message, prefixed with the op when known.
func (e *RemoteError) Error() string {
	if e.Op != "" {
		return fmt.Sprintf("%s: %s", e.Op, e.Message)
	}
	return e.Message
}

// errnoNames are the filesystem error prefixes the spec allows mapping.
var errnoNames = []string{"ENOENT", "EACCES", "EEXIST", "ENOTDIR", "EISDIR", "ENOTEMPTY", "ENOSPC", "EBUSY", "EPERM"}

// Errno returns the filesystem errno name ("ENOENT", "EACCES", …) that
// prefixes the message of an E_NIMBUS_REMOTE_RPC error, or "" when there is
// none. The session reports filesystem failures only through this prefix.
func (e *RemoteError) Errno() string {
	if e.Code != CodeRemoteRPC {
		return ""
	}
	for _, n := range errnoNames {
		if strings.HasPrefix(e.Message, n+":") {
			return n
		}
	}
	return ""
}

// Temporary reports whether the server asked the client to come back later.
func (e *RemoteError) Temporary() bool { return e.Status == 503 }

// Error is a failure detected on the client side: transport, protocol,
// local validation or limits.
type Error struct {
	// Code is one of the Code* constants.
	Code string
	// Message describes the failure for humans.
	Message string
	// Status is the HTTP status when one was received, else 0.
	Status int
	// Err is the underlying cause, if any.
	Err error
	// Phase is, for CodeHTTPTimeout, the phase that took too long:
	// "connect" or "tls" (nothing was sent, so the Worker did nothing),
	// "upload", "headers", "body" or "slow" (the Worker may have acted).
	Phase string
	// OutcomeUnknown is set, with CodeTransport, when the request was
	// sent and its answer was lost with a connection that another answer
	// broke (HTTP/2): whether the Worker acted on it is not known, so an
	// op that is not safe is not repeated blindly.
	OutcomeUnknown bool
}

// Error returns the message and, if any, the cause.
func (e *Error) Error() string {
	if e.Err != nil && e.Message == "" {
		return e.Err.Error()
	}
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// IsNotFound reports whether err is a filesystem ENOENT from the server.
func IsNotFound(err error) bool {
	var re *RemoteError
	return errors.As(err, &re) && re.Errno() == "ENOENT"
}

// HasCode reports whether err carries the given stable code, whether it came
// from the server (RemoteError) or from the client (Error).
func HasCode(err error, code string) bool {
	var re *RemoteError
	if errors.As(err, &re) {
		return re.Code == code
	}
	var ce *Error
	return errors.As(err, &ce) && ce.Code == code
}

// NeverReached tells a failure that happened before the request could
// reach a sandbox, so that it cannot have created one: the connection was
// never made (or timed out connecting), the Worker refused the request
// (401, 403: its authentication and its runtime policy both answer before
// the sandbox is called), or the endpoint is not the remote API. Any other
// failure (a timeout waiting for the answer, a dropped connection, a 5xx)
// leaves open that the Worker created the sandbox before it failed.
func NeverReached(err error) bool {
	var re *RemoteError
	if errors.As(err, &re) {
		return re.Status == http.StatusUnauthorized || re.Status == http.StatusForbidden
	}
	if HasCode(err, CodeAPINotEnabled) {
		return true
	}
	var ce *Error
	if errors.As(err, &ce) && ce.Code == CodeHTTPTimeout {
		// Connecting or the TLS handshake ran out: nothing was sent.
		return ce.Phase == "connect" || ce.Phase == "tls"
	}
	var oe *net.OpError
	return HasCode(err, CodeTransport) && errors.As(err, &oe) && oe.Op == "dial"
}

// malformed is the error of a result of the right JSON type that lacks
// what identifies it (a pid, a file type, a name): its zero value must not
// pass for an answer.
func malformed(op, what string) *Error {
	return &Error{Code: CodeBadResponse, Status: 200, Message: op + ": malformed result: " + what}
}

func newError(code, msg string, err error) *Error {
	return &Error{Code: code, Message: msg, Err: err}
}

// MaxServerText is how many bytes of a server's error message (or of the
// output a failed step reports, as a script's stderr) an error keeps: a
// megabyte of text is no clearer than a few KiB, and it would flood a
// terminal or a CI log.
const MaxServerText = 4 << 10

// maxServerCode bounds a server's error code the same way: stable codes
// are short names, and one that is not is kept only in part.
const maxServerCode = 128

// BoundServerText cuts a server's text to MaxServerText bytes (on a UTF-8
// character boundary) and says how much it cut. Every error this package
// and its subpackages build from a server's answer goes through it.
func BoundServerText(s string) string { return bound(s, MaxServerText) }

// ServerText is a server's message as the errors of this module keep it:
// without token (RedactToken), cut to MaxServerText bytes as
// BoundServerText cuts. It is for errors built outside this package from
// the answer to a request that carried token (a forwarded request).
func ServerText(s, token string) string { return redactBound(s, token, MaxServerText) }

// ServerCode is a server's error code as the errors of this module keep
// it: without token (RedactToken), cut to a stable code's length.
func ServerCode(s, token string) string { return redactBound(s, token, maxServerCode) }

// serverText is a server's text as an error keeps it: without the token
// req carried (RedactToken), cut to n bytes as bound cuts.
func serverText(s string, req *http.Request, n int) string {
	return redactBound(s, bearerOf(req), n)
}

// redactBound is s without token (RedactToken), cut to n bytes as bound
// cuts. Only the start that can be kept is redacted: a message of
// megabytes costs no more than one of a few KiB. The count of bytes cut
// counts the rest as it came.
func redactBound(s, token string, n int) string {
	// Room after the bound for a token (escaped, up to 6 bytes a byte)
	// that starts before it to be seen whole.
	limit := n + 4<<10
	if len(s) <= limit {
		return bound(RedactToken(s, token), n)
	}
	for limit > 0 && !utf8.RuneStart(s[limit]) {
		limit--
	}
	head := RedactToken(s[:limit], token)
	cut := min(n, len(head))
	for cut > 0 && cut < len(head) && !utf8.RuneStart(head[cut]) {
		cut--
	}
	return head[:cut] + fmt.Sprintf("… (%d more bytes cut)", len(head)-cut+len(s)-limit)
}

func bound(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… (%d more bytes cut)", len(s)-cut)
}
