// Package exitcode is the single table of process exit codes used by every
// nimbus command. The values follow sysexits(3), as upstream does, so scripts
// written against the upstream CLI keep working.
package exitcode

// Exit codes shared by all commands. sandbox exec and run-code pass the
// remote command's own code through and use Timeout, ExecFailed and
// Interrupted for their own failures, like timeout(1) and docker run.
const (
	// OK means success.
	OK = 0
	// Failure is a failure no other code describes: `session attach`
	// when another client took the terminal over, `doctor` when a check
	// failed (its report says which).
	Failure = 1
	// Usage means the command line was wrong (unknown flag, bad value).
	Usage = 64
	// DataErr means the input data was rejected (invalid token, bad claims).
	DataErr = 65
	// Unavailable means a service could not be reached or is unavailable
	// for now (network, 502/503/504, overloaded): retrying later may help.
	// Permanent failures never use it.
	Unavailable = 69
	// Software means an internal error in nimbus or an unexpected failure
	// inside the service (a 500 it could not explain).
	Software = 70
	// OSErr means the operating system failed nimbus: no random bytes
	// for a secret. Nothing the command line or the input can fix.
	OSErr = 71
	// CantCreate means an output could not be created (init target not
	// empty, a full disk).
	CantCreate = 73
	// IOErr means some files could not be read or written (a tree copy
	// that finished with failures).
	IOErr = 74
	// TempFail means a transient conflict: rerunning is expected to work
	// (runtime sync found the catalog changed by another publisher).
	TempFail = 75
	// Protocol means the service answered something nimbus does not
	// understand: an unknown operation, a malformed answer, a route that is
	// not the remote API (an older or different server).
	Protocol = 76
	// NoPerm means authentication or authorisation failed: a rejected or
	// expired token, a missing scope or permission, a policy refusal.
	NoPerm = 77
	// Config means required configuration is missing (secret, account, endpoint).
	Config = 78
	// Timeout is used by sandbox exec when the command timed out.
	Timeout = 124
	// ExecFailed is used by sandbox exec when nimbus itself failed.
	ExecFailed = 125
	// Interrupted is used when the user interrupted the command (Ctrl-C).
	Interrupted = 130
)
