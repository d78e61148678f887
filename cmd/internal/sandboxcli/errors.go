package sandboxcli

import (
	"context"
	"errors"
	"fmt"
	"net"
	pathpkg "path"
	"slices"
	"strings"
	"syscall"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/localhost"
	"github.com/nimbus-sh/nimbus/internal/shellquote"
	"github.com/nimbus-sh/nimbus/pkg/ignore"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/job"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// Error maps a sandbox failure to a CLI error with a sysexits code, the
// remote (or client) code, and a hint. Errors that are already
// *clierr.Error pass through. A hint that names a command to run writes
// the sandbox as the placeholder ID: use ErrorIn where it is known.
func Error(err error) error {
	return ErrorIn("", err)
}

// ErrorIn is Error for a failure in sandbox id ("" when not known): the
// hints that name a command to run next name the sandbox (ArgID), so that
// the command can be copied and run as it is.
func ErrorIn(id string, err error) error {
	return Hints{ID: id}.Error(err)
}

// Hints is what the command knows of a failure for the hints that name a
// command to run next: a hint is copied and run as it is written, so it
// names the real values, and placeholders only for what is not known.
type Hints struct {
	// ID is the sandbox ("" when not known: the placeholder ID).
	ID string
	// Read is the sandbox path (resolved against --root) the failed
	// operation read: files read, ls and stat. A read of a missing path
	// is helped by a listing of its parent, not by the advice for
	// writes (create the parent directory). "" for other operations.
	Read string
	// Tenant and Subject are the tenant and subject the command resolved
	// (--tenant/NIMBUS_TENANT/tenant:, --sub/NIMBUS_SUBJECT/subject:),
	// "" when not set: a mint hint names them (they are no secrets), as
	// the sandbox a token reaches is the tenant's and the subject's.
	Tenant, Subject string
	// Scopes are the scopes the failed operation needs, as the command
	// mints them (sandbox:use, plus session:destroy for destroy and a run
	// that destroys, session:attach for forward); nil means sandbox:use.
	Scopes []string
	// Unpinned says the operation is on no one sandbox (session new):
	// its token has no sid.
	Unpinned bool
	// Destroyed says the sandbox was destroyed before the error is
	// shown (sandbox run without --keep, or a session attach the server
	// ended with "session destroyed"): a command on its id would create
	// a new, empty sandbox with that id, so no hint names one.
	Destroyed bool
	// attached says the hints are session attach's (AttachError): a
	// destroyed sandbox is then a session the server ended, not one a
	// run destroyed, and the hint in place of a command on it says so.
	attached bool
	// Token is the claims of the token the user gave (--token-file,
	// NIMBUS_TOKEN, token:), read without verifying it (WithToken); nil
	// when nimbus mints its own tokens or the given one does not decode.
	// A mint hint names its tenant and subject, not the resolved ones:
	// what it mints is then a token like the one that failed (the
	// sandbox a token reaches is its tenant's and its subject's).
	Token *token.Claims
}

// WithToken is h with the claims of tokens, when it is a token the user
// gave (sc.StaticToken) that decodes. Only the claims are kept, which
// are no secret: never the token.
func (h Hints) WithToken(tokens sc.TokenSource) Hints {
	if tok, ok := tokens.(sc.StaticToken); ok {
		if d, err := token.Decode(string(tok)); err == nil {
			h.Token = &d.Claims
		}
	}
	return h
}

// identity is the tenant and subject a mint hint names: the given
// token's, when it has a tenant and both are ids mint takes
// (token.IsIDComponent), else the ones the command resolved.
func (h Hints) identity() (tenant, subject string) {
	if h.Token != nil {
		tn := h.Token.Tenant()
		sub, _ := h.Token.Subject()
		if token.IsIDComponent(tn) && (sub == "" || token.IsIDComponent(sub)) {
			return tn, sub
		}
	}
	return h.Tenant, h.Subject
}

// scopes is h.Scopes, or sandbox:use.
func (h Hints) scopes() []string {
	if len(h.Scopes) == 0 {
		return []string{"sandbox:use"}
	}
	return h.Scopes
}

// MintCommand is the nimbus token mint command of a token with scopes
// for the sandbox: the tenant and subject of the given token, or else
// the ones the command resolved (identity), quoted (T when the tenant is
// not known: mint requires one), pinned to the sandbox.
func (h Hints) MintCommand(scopes ...string) string {
	tn, sub := h.identity()
	tenant := "T"
	if tn != "" {
		tenant = shellquote.Quote(tn)
	}
	cmd := "nimbus token mint --tenant " + tenant
	if sub != "" {
		cmd += " --sub " + shellquote.Quote(sub)
	}
	cmd += " --scopes " + strings.Join(scopes, ",")
	if h.Unpinned {
		return cmd
	}
	return cmd + " --sid " + idWord(h.ID)
}

// PinHint is the hint of a token pinned (sid) to another sandbox than
// h.ID, which the Worker refused: the sandbox it is pinned to (the given
// token's sid claim, when it is an id; it is not verified) and the mint
// command of a token with scopes for this one. what names the sandbox
// ("sandbox", or "session" for session attach).
func (h Hints) PinHint(what string, scopes ...string) string {
	pinned := "another " + what
	if h.Token != nil {
		if sid, ok := h.Token.SessionID(); ok && token.IsIDComponent(sid) && sid != h.ID {
			pinned = what + " " + idWord(sid)
		}
	}
	this := "this " + what
	if h.ID != "" {
		this = idWord(h.ID)
	}
	return "the token is pinned (sid) to " + pinned + ", not " + this + "; mint one for " + this + ": " + h.MintCommand(scopes...)
}

// onSandbox is a hint that names a command on the sandbox: live renders
// it, given the sandbox as a command line writes it (ArgID). Every hint
// that names one is rendered here, as none may once the sandbox is
// destroyed (Destroyed): pasted, the command would create a new, empty
// sandbox with the id. The hint is then gone(id), or, when gone is nil,
// the sentence that says nothing in it can be looked at and how to keep
// the sandbox of a run; for session attach (whose sandbox no run
// destroyed), always the sentence that says to start a new session.
func (h Hints) onSandbox(live func(arg string) string, gone func(id string) string) string {
	if !h.Destroyed {
		return live(ArgID(h.ID))
	}
	if h.attached {
		gone = sessionDestroyedHint
	} else if gone == nil {
		gone = destroyedHint
	}
	return gone(h.ID)
}

// destroyedHint is the hint in place of one that names a command on
// sandbox id, which is destroyed: what was in it can be seen only in a
// sandbox kept at the end.
func destroyedHint(id string) string {
	return "sandbox " + idWord(id) + " was destroyed at the end of the run, so nothing in it can be looked at: run again with --keep to keep the sandbox for a look (then nimbus sandbox destroy it)"
}

// sessionDestroyedHint is the hint in place of one that names a command
// on session id, which the server destroyed while session attach was
// attached: its shell, files and processes are gone, and attaching to
// the id again would start a new, empty sandbox that merely has its
// name.
func sessionDestroyedHint(id string) string {
	return "session " + idWord(id) + " was destroyed, and its shell, files and processes with it: nothing of what the input ran is left to check; " +
		"start a new session (nimbus session new prints its id) and run the input again there"
}

// runtimeDestroyedHint is destroyedHint for a runtime that failed to
// install: where the runtimes a sandbox offers are listed.
func runtimeDestroyedHint(id string) string {
	return "check the spec name and version (NAME or NAME@VERSION); sandbox " + idWord(id) +
		" was destroyed at the end of the run: to list the runtimes a sandbox offers, run again with --keep and use nimbus sandbox runtimes list on the kept sandbox"
}

// Error is ErrorIn for the failure h describes.
func (h Hints) Error(err error) error {
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
		return remote(re, h)
	}
	var le *sc.Error
	if errors.As(err, &le) {
		return local(le)
	}
	var pe *transfer.PartialError
	if errors.As(err, &pe) {
		msg := pe.Error()
		switch len(pe.Failures) {
		case 0:
		case 1:
			msg = "1 path failed: " + FailureText(pe.Failures[0])
		default:
			msg = fmt.Sprintf("%d paths failed (first: %s)", len(pe.Failures), FailureText(pe.Failures[0]))
		}
		hint := "every other path was copied; fix the paths listed above and run the command again"
		for _, f := range pe.Failures {
			if refusedAsTooLarge(f.Err) {
				hint += "; " + WriteLimitHint
				break
			}
		}
		return clierr.Wrap(err, exitcode.IOErr, transfer.CodePartial, msg, hint)
	}
	var te *transfer.Error
	if errors.As(err, &te) {
		exit := exitcode.DataErr
		switch te.Code {
		case transfer.CodeIsDirectory, transfer.CodeBadTarget, transfer.CodeNoName:
			exit = exitcode.Usage
		case transfer.CodeLocalIO, transfer.CodeNoParent:
			exit = exitcode.CantCreate
		case transfer.CodeChanged, transfer.CodeVerify, transfer.CodeJoin:
			exit = exitcode.IOErr
		}
		hint := h.transferHint(te.Code)
		switch te.Code {
		case transfer.CodeNoParent:
			hint = h.noParentHint(te)
		case transfer.CodeNotFound:
			hint = h.notFoundHint(te)
		}
		return clierr.Wrap(err, exit, te.Code, te.Message, hint)
	}
	var rte *job.RuntimeError
	if errors.As(err, &rte) {
		return clierr.Wrap(err, exitcode.DataErr, job.CodeRuntimeInstall, rte.Error(), h.onSandbox(runtimeInstallHint, runtimeDestroyedHint))
	}
	var ie *ignore.Error
	if errors.As(err, &ie) {
		return clierr.Wrap(err, exitcode.DataErr, transfer.CodeIgnoreFile, ie.Error(), "fix or remove the ignore file, or pass --no-gitignore")
	}
	return clierr.Wrap(err, exitcode.Software, clierr.CodeInternal, err.Error(), "")
}

// ArgID is sandbox id as a hint's command line writes it, as the first
// of the command's arguments: quoted for a POSIX shell (a valid id needs
// no quotes, but a hint may name one the command refused), or the
// placeholder ID when it is not known. An id that starts with '-' (the id
// rule allows it) comes after "--", or the command would parse it as
// flags: "-- -x". Every word after it is then an argument, never a flag,
// so a hint writes the command's flags before ArgID, and its arguments
// after it; exec and start take their usual "--" before the COMMAND
// after it too ("nimbus sandbox exec -- -x -- COMMAND").
func ArgID(id string) string {
	if strings.HasPrefix(id, "-") {
		return "-- " + idWord(id)
	}
	return idWord(id)
}

// idWord is sandbox id as a hint writes it in a sentence or as a flag's
// value (--sid -x, which takes the next word whatever it is): quoted for
// a POSIX shell, or the placeholder ID when it is not known.
func idWord(id string) string {
	if id == "" {
		return "ID"
	}
	return shellquote.Quote(id)
}

// OnSandbox is a hint, or a notice, that names a command on sandbox
// h.ID, for the commands outside this package: live renders it, given
// the sandbox as a command line writes it (ArgID). Once the sandbox is
// destroyed (Destroyed) it is the sentence that says so instead, as for
// every hint of this package (onSandbox): pasted, a command on the id
// would create a new, empty sandbox with it.
func (h Hints) OnSandbox(live func(arg string) string) string { return h.onSandbox(live, nil) }

// RuntimeInstallHint is the hint of a runtime that failed to install in
// sandbox h.ID.
func (h Hints) RuntimeInstallHint() string {
	return h.onSandbox(runtimeInstallHint, runtimeDestroyedHint)
}

// runtimeInstallHint is RuntimeInstallHint of the sandbox arg (ArgID).
func runtimeInstallHint(arg string) string {
	return "check the spec name and version with nimbus sandbox runtimes list " + arg
}

// NoProcessHint is the hint of a pid sandbox h.ID does not know.
func (h Hints) NoProcessHint() string { return h.onSandbox(noProcessHint, nil) }

// noProcessHint is NoProcessHint of the sandbox arg (ArgID).
func noProcessHint(arg string) string { return "list processes with nimbus sandbox ps " + arg }

// ReadNotFoundHint is the hint of a read of path, a sandbox path that does
// not exist in sandbox h.ID: the listing of its parent directory, which
// shows what is there (a misspelt name, another directory).
func (h Hints) ReadNotFoundHint(path string) string {
	return h.onSandbox(func(arg string) string { return readNotFoundHint(arg, path) }, nil)
}

// readNotFoundHint is ReadNotFoundHint of the sandbox arg (ArgID).
func readNotFoundHint(arg, path string) string {
	return "the path does not exist in the sandbox: nimbus sandbox files ls " + arg + " " + shellquote.Quote(pathpkg.Dir(path)) +
		" lists its directory (relative paths are resolved against --root)"
}

// noParentHint names the directory a copy's destination needed and the
// two ways to have it.
func (h Hints) noParentHint(te *transfer.Error) string {
	if te.Remote {
		return h.onSandbox(func(arg string) string {
			return fmt.Sprintf("check the destination: %s does not exist in the sandbox; create it (nimbus sandbox files mkdir %s %[1]s), or pass --mkpath to create missing directories", shellquote.Quote(te.Dir), arg)
		}, nil)
	}
	// Quoted as the sandbox's is: a name with a space or a quote in it
	// reads as one path, and can be pasted into a shell.
	return fmt.Sprintf("check the destination: %s does not exist; create it, or pass --mkpath to create missing directories", shellquote.Quote(te.Dir))
}

// notFoundHint is the hint of a copy's source that does not exist: the
// listing of the sandbox directory that should have held it, when the
// source is a sandbox path.
func (h Hints) notFoundHint(te *transfer.Error) string {
	if te.Remote && te.Dir != "" {
		return h.onSandbox(func(arg string) string {
			return fmt.Sprintf("check the source path: nimbus sandbox files ls %s %s lists what the sandbox has there (relative paths start at --root, /home/user by default)", arg, shellquote.Quote(te.Dir))
		}, nil)
	}
	return h.transferHint(te.Code)
}

// chdirTarget is the directory an ENOENT message of a chdir names
// ("ENOENT: no such file or directory, chdir '/home/user/app'"), quoted
// for a shell, or the placeholder DIR when the message names none.
func chdirTarget(message string) string {
	_, dir, ok := strings.Cut(message, ", chdir ")
	if !ok {
		return "DIR"
	}
	if i := strings.LastIndex(dir, " -> '"); i >= 0 {
		dir = dir[i+len(" -> "):]
	}
	if len(dir) < 3 || dir[0] != '\'' || dir[len(dir)-1] != '\'' {
		return "DIR"
	}
	return shellquote.Quote(dir[1 : len(dir)-1])
}

// LocalIOHint is the hint of every E_LOCAL_IO error (a local file or
// directory cannot be read or created), whose message names the path.
const LocalIOHint = "check the local path named above: its directory must exist, and you need permission to read or write it, on a filesystem that is not read-only and has space left"

func (h Hints) transferHint(code string) string {
	switch code {
	case transfer.CodeIsDirectory:
		return "add -r to copy a directory tree"
	case transfer.CodeLocalIO:
		return LocalIOHint
	case transfer.CodeNotFound:
		return h.onSandbox(func(arg string) string {
			return "check the source path; nimbus sandbox files ls " + arg + " DIR lists the sandbox side (relative paths start at --root, /home/user by default)"
		}, nil)
	case transfer.CodeVerify:
		return "the sandbox joined the parts of a big file but the result does not match; the target was left untouched. The sandbox's cat or sha256sum may not be binary-safe"
	case transfer.CodeJoin:
		return "the sandbox could not join the parts of a big file (is its disk full?); the target was left untouched"
	case transfer.CodeChanged:
		return "the file changed while it was copied; copy it again once it is complete"
	case transfer.CodeIgnoreFile:
		return "fix or remove the ignore file, or pass --no-gitignore"
	case transfer.CodeNoName:
		return "name the destination: a sandbox directory that does not exist yet receives the contents, e.g. nimbus sandbox cp -r D:\\ job-1:/home/user/d"
	case transfer.CodeBadTarget:
		return "write the sandbox side as ID:PATH, e.g. nimbus sandbox cp ./dist job-1:/home/user/dist; prefix a local path containing ':' with ./; an empty path is refused (ID:. is the sandbox's root, . the current directory)"
	}
	return ""
}

// RemoteExit is the exit code of an error answer from the Worker, the way
// sysexits(3) means them (docs/exit-codes.md is the table; a test checks
// every row of it end to end). 69 is only for what retrying may fix: an
// overloaded or redeploying Worker, a bad gateway. A refusal retrying
// cannot fix is 65 (the request's data), 77 (authentication and
// permission), 78 (the Worker's configuration) or 76 (a Worker that does
// not speak this protocol).
func RemoteExit(status int, code, message string) int {
	switch code {
	case "E_TOKEN_MALFORMED", "E_TOKEN_SIGNATURE", "E_TOKEN_CLAIMS", "E_TOKEN_EXPIRED",
		"E_SCOPE_MISSING", "E_SESSION_PIN_MISMATCH", "E_BOOTSTRAP_CONSUMED", "E_ANON_SESSION_TTL",
		"E_RUNTIME_NOT_ALLOWED", "E_RUNTIME_ON_DEMAND_DISABLED":
		return exitcode.NoPerm
	case "E_AUTH_CONFIG_MISSING", "E_NIMBUS_BINDING_MISSING":
		return exitcode.Config
	case "E_REMOTE_OP", "E_METHOD_NOT_ALLOWED", "E_BAD_JSON":
		return exitcode.Protocol
	case "E_SANDBOX_ID":
		return exitcode.Usage
	case "E_ARG_SHAPE", "E_TOKEN_TTL_TOO_LARGE":
		return exitcode.DataErr
	case "E_NIMBUS_DO_OVERLOADED", "E_NIMBUS_DO_CODE_UPDATED":
		return exitcode.Unavailable
	case "E_AUTH_UNKNOWN":
		return exitcode.Software
	case sc.CodeRemoteRPC:
		// Whatever the session threw while doing the operation: a missing
		// path or pid, an unknown signal, arguments it refused. Retrying
		// the same request fails the same way.
		switch remoteErrno(message) {
		case "EACCES", "EPERM":
			return exitcode.NoPerm
		case "ENOSPC", "EDQUOT", "EROFS", "EFBIG":
			return exitcode.CantCreate
		}
		return exitcode.DataErr
	}
	switch {
	case status == 401 || status == 403:
		return exitcode.NoPerm
	case status == 408 || status == 429 || status == 502 || status == 503 || status == 504:
		return exitcode.Unavailable
	case status >= 400 && status < 500:
		return exitcode.DataErr
	case status >= 500:
		return exitcode.Software
	}
	return exitcode.Protocol
}

// scopeHint is the hint of an E_SCOPE_MISSING answer. The Worker names
// the scope it wanted, in two forms: "Missing required scope:
// session:create", and destroy's "Nimbus token missing required scope:
// session:destroy or session:admin". The hint mints a token with the
// first of them beside the scopes the command uses, since a general hint
// about sandbox:use sends someone whose command lacks another scope after
// the wrong one.
func (h Hints) scopeHint(message string) string {
	const marker = "missing required scope: "
	if i := strings.Index(strings.ToLower(message), marker); i >= 0 {
		want := strings.TrimSpace(message[i+len(marker):])
		first, _, _ := strings.Cut(want, " or ")
		if isScopeName(first) {
			scopes := h.scopes()
			if !slices.Contains(scopes, first) {
				scopes = append(slices.Clone(scopes), first)
			}
			return "the token lacks the " + first + " scope: mint one with it (" + h.MintCommand(scopes...) +
				"), or let nimbus mint one (JWT_SECRET and --tenant)"
		}
	}
	return "the token lacks a scope: sandbox commands need sandbox:use, destroy also session:destroy"
}

// isScopeName reports whether s looks like a scope (sandbox:use): lower
// case letters with one colon, nothing a shell would read.
func isScopeName(s string) bool {
	name, rest, ok := strings.Cut(s, ":")
	if !ok || name == "" || rest == "" {
		return false
	}
	for _, c := range name + rest {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// remoteErrno is the errno name an E_NIMBUS_REMOTE_RPC message starts with
// ("ENOENT: no such file or directory, open '/x'" gives ENOENT), or "".
func remoteErrno(message string) string {
	name, _, ok := strings.Cut(message, ":")
	if !ok || len(name) < 3 || name[0] != 'E' {
		return ""
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return ""
		}
	}
	return name
}

// WriteLimitHint is the hint of a request the server refused as too
// large (HTTP 413): the write limit is above what it accepts.
const WriteLimitHint = "the server refused a request this large (HTTP 413): lower --write-limit (NIMBUS_WRITE_LIMIT, write_limit:), e.g. --write-limit 8MiB; bigger files are then sent in more parts"

// refusedAsTooLarge reports whether err is a server's HTTP 413.
func refusedAsTooLarge(err error) bool {
	var re *sc.RemoteError
	var le *sc.Error
	return errors.As(err, &re) && re.Status == 413 || errors.As(err, &le) && le.Status == 413
}

// answeredLocally reports whether re came from a server on this machine.
func answeredLocally(re *sc.RemoteError) bool {
	return localhost.Is(re.Host)
}

func remote(re *sc.RemoteError, h Hints) *clierr.Error {
	exit := RemoteExit(re.Status, re.Code, re.Message)
	hint := ""
	switch {
	case re.Code == "E_TOKEN_SIGNATURE" && answeredLocally(re):
		// nimbus dev, not a Worker: its secret is JWT_SECRET if it was
		// started with one, else the one kept in its data directory,
		// which 'nimbus dev token' signs with.
		hint = "the server on this machine (nimbus dev) did not sign this token: export NIMBUS_TOKEN=$(nimbus dev token), run with the server's NIMBUS_DEV_DATA and JWT_SECRET (unset if it was started without one)"
	case re.Status == 401:
		hint = "the Worker rejected the token; mint a fresh one (" + h.MintCommand(h.scopes()...) + ") or check JWT_SECRET matches the Worker's"
	case re.Code == "E_SCOPE_MISSING":
		hint = h.scopeHint(re.Message)
	case re.Code == "E_SESSION_PIN_MISMATCH":
		hint = h.PinHint("sandbox", h.scopes()...)
	case re.Code == "E_RUNTIME_NOT_ALLOWED", re.Code == "E_RUNTIME_ON_DEMAND_DISABLED":
		hint = "the sandbox profile's runtimes policy forbids this; change the Worker's profile or use an allowed runtime"
	case re.Code == sc.CodeRemoteOp:
		hint = "the Worker does not know this operation; it is probably older than this nimbus"
	case re.Code == "E_AUTH_CONFIG_MISSING":
		hint = "the Worker has no JWT_SECRET; set it with nimbus setup cloudflare --set-secret"
	case re.Code == "E_NIMBUS_BINDING_MISSING":
		hint = "the Worker's wrangler config lacks the NIMBUS_SESSION Durable Object binding"
	case exit == exitcode.Unavailable:
		hint = "the Worker is overloaded or was just redeployed; retry in a few seconds"
	}
	if re.Status == 413 {
		hint = WriteLimitHint
	}
	switch remoteErrno(re.Message) {
	case "ENOENT":
		hint = h.onSandbox(func(arg string) string {
			switch {
			case strings.Contains(re.Message, ", chdir '"):
				// exec --cwd, run's first upload destination: a hint
				// about writes sent people after the wrong path.
				return "the working directory does not exist in the sandbox: check --cwd (relative paths are resolved against --root), or create it with nimbus sandbox files mkdir " + arg + " " + chdirTarget(re.Message)
			case h.Read != "":
				return readNotFoundHint(arg, h.Read)
			}
			return "the path does not exist in the sandbox (writes need the parent directory: nimbus sandbox files mkdir " + arg + " DIR)"
		}, nil)
	case "ENOTDIR":
		hint = "a part of the path is a file, not a directory"
	case "EEXIST":
		hint = "the path exists already: a file where a directory is needed, or the other way round"
	case "EISDIR":
		hint = "the path is a directory"
	case "ENOTEMPTY":
		hint = "the directory is not empty; add -r to remove it with its contents"
	case "ENOSPC":
		hint = "the sandbox filesystem is full"
	case "EDQUOT":
		hint = "the sandbox's disk quota is used up"
	case "EFBIG":
		hint = "the file is larger than the sandbox allows"
	case "ESRCH":
		hint = h.onSandbox(func(arg string) string { return "no such process; " + noProcessHint(arg) }, nil)
	}
	if re.Code == sc.CodeRemoteRPC && strings.HasPrefix(re.Message, "no such process") {
		// processLogs of a pid the session does not know ("no such
		// process: 42") carries no errno.
		hint = h.onSandbox(func(arg string) string { return "no such process; " + noProcessHint(arg) }, nil)
	}
	code := re.Code
	if code == "" {
		code = sc.StatusCode(re.Status)
	}
	return clierr.Wrap(re, exit, code, re.Message, hint)
}

// LocalExit is the exit code of a failure the client detected itself
// (docs/exit-codes.md, second table).
func LocalExit(code string) int {
	switch code {
	case sc.CodeAPINotEnabled:
		return exitcode.Config
	case sc.CodeBadResponse, sc.CodeStreamProtocol:
		return exitcode.Protocol
	case sc.CodeWriteTooLarge:
		return exitcode.DataErr
	case sc.CodeInvalidArgument, sc.CodeSandboxID:
		return exitcode.Usage
	case sc.CodeInvalidToken:
		return exitcode.Config
	case sc.CodeExecFailed:
		return exitcode.Software
	case sc.CodeFileChanged:
		return exitcode.IOErr
	}
	// Transport failures, HTTP timeouts, gateway error pages (E_GATEWAY),
	// answers cut short: retrying may help.
	return exitcode.Unavailable
}

func local(le *sc.Error) *clierr.Error {
	exit := LocalExit(le.Code)
	hint := ""
	switch le.Code {
	case sc.CodeAPINotEnabled:
		hint = "check --endpoint/NIMBUS_ENDPOINT and --base-path; the Worker must enable the remote API (sdk.remote)"
	case sc.CodeTransport:
		hint = "is the Worker running and reachable at --endpoint (NIMBUS_ENDPOINT, endpoint: in the config)?"
		if le.OutcomeUnknown {
			// The Worker was reached: asking whether it runs is no help.
			hint = "the request reached the Worker, but its answer was lost when another answer broke the connection: check whether it ran before running it again"
		} else if addr := refusedOnLoopback(le); addr != "" {
			hint = "nothing listens at " + addr + " on this machine: start the local backend with nimbus dev, or check --endpoint (NIMBUS_ENDPOINT, endpoint: in the config)"
		}
	case sc.CodeHTTPTimeout:
		hint = HTTPTimeoutHint
	case sc.CodeGateway:
		hint = "the Worker did not answer (an error page from Cloudflare or a proxy); reads were retried; check the Worker's health (wrangler tail) and try again"
	case sc.CodeBadResponse:
		hint = "the answer is not the Nimbus remote API's: check --endpoint and --base-path, and that the Worker is as new as this nimbus"
	case sc.CodeWriteTooLarge:
		hint = "one write is limited to about 20 MiB by the platform; split the file or compress it"
	case sc.CodeInvalidToken:
		hint = "the token file must hold the token alone on one line"
	case sc.CodeInvalidArgument:
		if strings.HasPrefix(le.Message, "endpoint must be an http(s) URL") {
			// Most often host:port (127.0.0.1:8787), which reads as
			// a URL whose scheme is the host.
			hint = "give the URL with its scheme: https://my-nimbus.workers.dev, or http://127.0.0.1:8787 for nimbus dev"
		}
	}
	if le.Status == 413 {
		hint = WriteLimitHint
	}
	// le.Error() includes the cause (e.g. "connection refused"), which
	// never holds a secret: URLs are stripped from transport errors.
	return clierr.Wrap(le, exit, le.Code, le.Error(), hint)
}

// ExecError maps a failure of `sandbox exec` or `run-code`: the command's
// own exit code is reserved for the remote command, so nimbus failures
// exit 125, a timeout 124 and an interruption 130.
func ExecError(err error) error {
	return ExecErrorIn("", err)
}

// ExecErrorIn is ExecError for a failure in sandbox id, whose hints name
// it as ErrorIn's do.
func ExecErrorIn(id string, err error) error {
	return Hints{ID: id}.ExecError(err)
}

// ExecError is ExecErrorIn for the failure h describes.
func (h Hints) ExecError(err error) error {
	mapped := h.Error(err)
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

// refusedOnLoopback returns the address of a connection refused on this
// machine ("" for any other failure): with a loopback endpoint that is
// 'nimbus dev' not running, more often than a Worker that cannot be
// reached.
func refusedOnLoopback(err error) string {
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "dial" || !errors.Is(err, syscall.ECONNREFUSED) {
		return ""
	}
	ta, ok := oe.Addr.(*net.TCPAddr)
	if !ok || !ta.IP.IsLoopback() {
		return ""
	}
	return ta.String()
}
