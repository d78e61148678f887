package sandboxcli

import (
	"context"
	"errors"
	"fmt"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/pkg/ignore"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

// Error maps a sandbox failure to a CLI error with a sysexits code, the
// remote (or client) code, and a hint. Errors that are already
// *clierr.Error pass through.
func Error(err error) error {
	if err == nil {
		return nil
	}
	var ce *clierr.Error
	if errors.As(err, &ce) {
		return ce
	}
	if errors.Is(err, context.Canceled) {
		return clierr.Wrap(err, exitcode.Interrupted, "E_INTERRUPTED", "interrupted", "")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return clierr.Wrap(err, exitcode.Timeout, "E_TIMEOUT", "timed out waiting for the sandbox", "")
	}
	var re *sc.RemoteError
	if errors.As(err, &re) {
		return remote(re)
	}
	var le *sc.Error
	if errors.As(err, &le) {
		return local(le)
	}
	var pe *transfer.PartialError
	if errors.As(err, &pe) {
		return clierr.Wrap(err, exitcode.IOErr, transfer.CodePartial, pe.Error(), "every other path was copied; fix the paths listed above and run the command again")
	}
	var te *transfer.Error
	if errors.As(err, &te) {
		exit := exitcode.DataErr
		switch te.Code {
		case transfer.CodeIsDirectory, transfer.CodeBadTarget:
			exit = exitcode.Usage
		case transfer.CodeLocalIO:
			exit = exitcode.CantCreate
		case transfer.CodeChanged:
			exit = exitcode.IOErr
		case transfer.CodeVerify, transfer.CodeJoin:
			exit = exitcode.Unavailable
		}
		return clierr.Wrap(err, exit, te.Code, te.Message, transferHint(te.Code))
	}
	var ie *ignore.Error
	if errors.As(err, &ie) {
		return clierr.Wrap(err, exitcode.DataErr, transfer.CodeIgnoreFile, ie.Error(), "fix or remove the ignore file, or pass --no-gitignore")
	}
	return clierr.Wrap(err, exitcode.Software, clierr.CodeInternal, err.Error(), "")
}

func transferHint(code string) string {
	switch code {
	case transfer.CodeIsDirectory:
		return "add -r to copy a directory tree"
	case transfer.CodeVerify:
		return "the sandbox joined the parts of a big file but the result does not match; the target was left untouched. The sandbox's cat or sha256sum may not be binary-safe"
	case transfer.CodeJoin:
		return "the sandbox could not join the parts of a big file (is its disk full?); the target was left untouched"
	case transfer.CodeChanged:
		return "the file changed while it was copied; copy it again once it is complete"
	case transfer.CodeIgnoreFile:
		return "fix or remove the ignore file, or pass --no-gitignore"
	case transfer.CodeBadTarget:
		return "write the sandbox side as ID:PATH, e.g. nimbus sandbox cp ./dist job-1:/home/user/dist; prefix a local path containing ':' with ./"
	}
	return ""
}

func remote(re *sc.RemoteError) *clierr.Error {
	exit := exitcode.Unavailable
	hint := ""
	switch {
	case re.Status == 401:
		exit = exitcode.DataErr
		hint = "the Worker rejected the token; mint a fresh one (nimbus token mint … --scopes sandbox:use --sid ID) or check JWT_SECRET matches the Worker's"
	case re.Code == "E_SCOPE_MISSING":
		exit = exitcode.NoPerm
		hint = "the token lacks a scope: sandbox commands need sandbox:use, destroy also session:destroy"
	case re.Code == "E_SESSION_PIN_MISMATCH":
		exit = exitcode.NoPerm
		hint = "the token is pinned (sid) to another sandbox; mint one with --sid set to this sandbox id"
	case re.Code == "E_RUNTIME_NOT_ALLOWED", re.Code == "E_RUNTIME_ON_DEMAND_DISABLED":
		exit = exitcode.NoPerm
		hint = "the sandbox profile's runtimes policy forbids this; change the Worker's profile or use an allowed runtime"
	case re.Status == 403:
		exit = exitcode.NoPerm
	case re.Code == sc.CodeRemoteOp:
		hint = "the Worker does not know this operation; it is probably older than this nimbus"
	case re.Status >= 400 && re.Status < 500:
		exit = exitcode.DataErr
	case re.Code == "E_AUTH_CONFIG_MISSING":
		hint = "the Worker has no JWT_SECRET; set it with wrangler secret put JWT_SECRET"
	case re.Status == 503:
		hint = "the Worker is overloaded or was just redeployed; retry in a few seconds"
	}
	if errno := re.Errno(); errno != "" {
		exit = exitcode.DataErr
		switch errno {
		case "ENOENT":
			hint = "the path does not exist in the sandbox (writes need the parent directory: nimbus sandbox files mkdir)"
		case "EISDIR":
			hint = "the path is a directory"
		case "ENOTEMPTY":
			hint = "the directory is not empty; add -r to remove it with its contents"
		case "ENOSPC":
			hint = "the sandbox filesystem is full"
		}
	}
	code := re.Code
	if code == "" {
		code = fmt.Sprintf("HTTP_%d", re.Status)
	}
	return clierr.Wrap(re, exit, code, re.Message, hint)
}

func local(le *sc.Error) *clierr.Error {
	exit := exitcode.Unavailable
	hint := ""
	switch le.Code {
	case sc.CodeAPINotEnabled:
		hint = "check --endpoint/NIMBUS_ENDPOINT and --base-path; the Worker must enable the remote API (sdk.remote)"
	case sc.CodeTransport:
		hint = "is the Worker running and reachable at --endpoint?"
	case sc.CodeWriteTooLarge:
		exit = exitcode.DataErr
		hint = "one write is limited to about 20 MiB by the platform; split the file or compress it"
	case sc.CodeInvalidArgument, sc.CodeSandboxID:
		exit = exitcode.Usage
	case sc.CodeInvalidToken:
		exit = exitcode.Config
		hint = "the token file must hold the token alone on one line"
	case sc.CodeExecFailed:
		exit = exitcode.Software
	}
	// le.Error() includes the cause (e.g. "connection refused"), which
	// never holds a secret: URLs are stripped from transport errors.
	return clierr.Wrap(le, exit, le.Code, le.Error(), hint)
}

// ExecError maps a failure of `sandbox exec` or `run-code`: the command's
// own exit code is reserved for the remote command, so nimbus failures
// exit 125, a timeout 124 and an interruption 130.
func ExecError(err error) error {
	mapped := Error(err)
	var ce *clierr.Error
	if !errors.As(mapped, &ce) {
		return mapped
	}
	out := *ce
	switch {
	case errors.Is(err, context.Canceled):
		out.Exit = exitcode.Interrupted
	case errors.Is(err, context.DeadlineExceeded):
		out.Exit = exitcode.Timeout
		out.Message = "timed out waiting for the command"
	default:
		out.Exit = exitcode.ExecFailed
	}
	return &out
}
