package mcpserver

import (
	"context"
	"errors"
	"strings"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// Codes of failures detected by the server itself. Failures of the sandbox
// keep the Worker's or the client's code (E_SCOPE_MISSING, E_TRANSPORT, …).
const (
	// CodeInvalidInput: the arguments passed the schema but make no sense
	// together (writeFile with both content and data, a bad base64 string).
	CodeInvalidInput = "E_INVALID_INPUT"
	// CodeNotFound: the path does not exist.
	CodeNotFound = "E_NOT_FOUND"
	// CodeIsDirectory: a file operation named a directory.
	CodeIsDirectory = "E_IS_DIRECTORY"
	// CodeTooLarge: a resource read asked for more than the server returns
	// in one piece.
	CodeTooLarge = "E_TOO_LARGE"
	// CodeCancelled: the client cancelled the call (or the server is
	// shutting down); a running command was cancelled with it.
	CodeCancelled = "E_CANCELLED"
	// CodeSchema: the arguments failed the tool's input schema (only seen in
	// logs: the SDK answers these before a handler runs).
	CodeSchema = "E_INPUT_SCHEMA"
	// CodeUnknownTool: a call named no tool of this server.
	CodeUnknownTool = "E_UNKNOWN_TOOL"
	// CodeInternal: a failure of the server itself (a panic in a tool, an
	// error it does not classify), not of the call's arguments.
	CodeInternal = "E_INTERNAL"
)

// ToolError is the failure of one tool call, as the model sees it: a
// message, the stable code, and a hint about what to do next.
type ToolError struct {
	// Code is a stable code: one of the Code constants, or the sandbox
	// client's or the Worker's code passed through (E_NIMBUS_REMOTE_RPC,
	// E_SCOPE_MISSING…).
	Code string
	// Message says what failed; for a Worker failure it is the Worker's
	// own text, which names the path or the scope.
	Message string
	// Hint tells the model what to do next; empty when there is no useful
	// advice.
	Hint string
	// Err is the underlying error, for errors.Is and errors.As on the
	// server side; the model never sees it apart from Message. Nil for
	// input errors.
	Err error
}

// Error renders the message, the code and the hint on one line each.
func (e *ToolError) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	b.WriteString(" [")
	b.WriteString(e.Code)
	b.WriteString("]")
	if e.Hint != "" {
		b.WriteString("\nhint: ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *ToolError) Unwrap() error { return e.Err }

func inputError(msg string) *ToolError {
	return &ToolError{Code: CodeInvalidInput, Message: msg}
}

// toolError turns a sandbox client failure into what the model should
// read. The Worker's own message is kept: it names the path or the scope.
func toolError(err error) *ToolError {
	var te *ToolError
	if errors.As(err, &te) {
		return te
	}
	if sc.HasCode(err, sc.CodeTimeout) {
		// The client's own bound on a command whose timeout the Worker
		// never reported: not a cancelled call.
		return &ToolError{Code: sc.CodeTimeout, Message: err.Error(), Err: err,
			Hint: "the command was stopped after its timeout (timeoutMs); give it more time, or run it in the background with startProcess"}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &ToolError{Code: CodeCancelled, Message: "the call was cancelled before it finished", Err: err,
			Hint: "a command that was running has been cancelled; run it again if it is still needed"}
	}
	var re *sc.RemoteError
	if errors.As(err, &re) {
		e := &ToolError{Code: re.Code, Message: re.Message, Err: err}
		switch {
		case re.Errno() == "ENOENT":
			e.Hint = "check the path with listFiles or exists; writeFile creates missing parent directories"
		case re.Errno() == "EISDIR":
			e.Hint = "the path is a directory: use listFiles, or deleteFile with recursive"
		case re.Errno() == "ENOTEMPTY":
			e.Hint = "the directory is not empty: pass recursive: true to delete it with its contents"
		case re.Status == 401:
			e.Hint = "the Worker rejected this MCP server's token (expired or signed with another secret); the user must restart `nimbus mcp` with a valid token"
		case re.Code == "E_SCOPE_MISSING":
			e.Hint = "this MCP server's token lacks a scope the operation needs; the user must restart `nimbus mcp` with a token that has sandbox:use"
		case re.Code == "E_SESSION_PIN_MISMATCH":
			e.Hint = "this MCP server's token is pinned to another sandbox; the user must restart `nimbus mcp` with a matching --sandbox or token"
		case re.Code == "E_RUNTIME_NOT_ALLOWED", re.Code == "E_RUNTIME_ON_DEMAND_DISABLED":
			e.Hint = "the sandbox profile's runtime policy forbids this; call listRuntimes to see what is installed, or use another language"
		case re.Status == 503:
			e.Hint = "the sandbox is temporarily unavailable; try again in a few seconds"
		}
		return e
	}
	var ce *sc.Error
	if errors.As(err, &ce) {
		e := &ToolError{Code: ce.Code, Message: ce.Error(), Err: err}
		switch ce.Code {
		case sc.CodeWriteTooLarge:
			e.Hint = "write the file in smaller pieces, or create it with exec in the sandbox"
		case sc.CodeTransport, sc.CodeAPINotEnabled:
			e.Hint = "the Nimbus Worker could not be reached; the user should check the endpoint and the network, or run `nimbus doctor`"
			if ce.OutcomeUnknown {
				// It was reached: the call was sent, and its answer lost
				// with a connection another answer broke. Telling the
				// model the Worker is unreachable invites running a
				// command that may have run again without a look.
				e.Hint = "the call reached the Worker, but its answer was lost with the connection: it may or may not have run; check whether it ran (its files, its processes) before running it again"
			}
		case sc.CodeExecFailed:
			e.Hint = "the sandbox ended the command without an exit status; run it again"
		}
		return e
	}
	return &ToolError{Code: CodeInternal, Message: err.Error(), Err: err}
}
