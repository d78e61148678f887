// Package errkind is the one list of kinds by which nimbus's libraries
// (pkg/provision, pkg/runtimesync, pkg/npmregistry) classify their typed
// errors, and the one mapping from a kind to its sysexits(3) exit code.
// Each library keeps its own error type, with its own stable codes and
// details, and aliases its Kind constants to these, so the same failure
// exits with the same code whichever library reports it.
package errkind

import (
	"errors"

	"github.com/nimbus-sh/nimbus/internal/exitcode"
)

// Kind says what the user has to do about an error; ExitCode gives its
// exit code, so no caller inspects messages. The zero Kind is Internal: an
// error nobody classified is a bug.
type Kind int

// The kinds, with the exit code each maps to.
const (
	// Internal is a bug or an unexpected answer or state (70).
	Internal Kind = iota
	// Usage means the request itself is invalid: an unknown runtime, a
	// name the service would reject (64).
	Usage
	// Data means an input, package or answer failed a check (65).
	Data
	// Unavailable means a service or the network failed even after
	// retries, or lacks what was asked for (69): another or later may
	// have it.
	Unavailable
	// NotFound means a service has no such thing (69, as Unavailable):
	// separate from Unavailable so that a caller can fall back without
	// retrying.
	NotFound
	// Config means something must be set up or fixed first: an account,
	// a bucket, a registry setting (78).
	Config
	// CantCreate means a local file or cache could not be written (73).
	CantCreate
	// Conflict means another writer changed something meanwhile in a way
	// that going on would undo; a rerun is expected to work (75).
	Conflict
	// Permission means a credential is invalid, inactive or lacks a
	// permission (77).
	Permission
	// Interrupted means the caller cancelled the context (130).
	Interrupted
	// OSErr means the operating system failed: no random bytes could be
	// read (71).
	OSErr
)

// ExitCode is the sysexits(3) status of k (see the constants).
func (k Kind) ExitCode() int {
	switch k {
	case Usage:
		return exitcode.Usage
	case Data:
		return exitcode.DataErr
	case Unavailable, NotFound:
		return exitcode.Unavailable
	case Config:
		return exitcode.Config
	case CantCreate:
		return exitcode.CantCreate
	case Conflict:
		return exitcode.TempFail
	case Permission:
		return exitcode.NoPerm
	case Interrupted:
		return exitcode.Interrupted
	case OSErr:
		return exitcode.OSErr
	}
	return exitcode.Software
}

// As reports whether err is (or wraps) an error of type E and returns it:
// the body of each library's AsError.
func As[E error](err error) (E, bool) {
	var e E
	ok := errors.As(err, &e)
	return e, ok
}
