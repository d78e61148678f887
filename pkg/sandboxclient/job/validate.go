package job

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

// CodeInvalidSpec is the code of a SpecError: the caller described the job
// wrongly, a usage error like a malformed flag of sandbox run (whose
// checks these are).
const CodeInvalidSpec = "E_USAGE"

// The Spec fields a SpecError names.
const (
	FieldUploads   = "Uploads"
	FieldDownloads = "Downloads"
	FieldRuntimes  = "Runtimes"
	FieldEnv       = "Env"
	FieldTimeout   = "Timeout"
	FieldCommand   = "Command"
)

// SpecError is a Spec that Validate refuses, and Run with it, before
// anything is sent to the sandbox. It never holds an Env value (values
// are often secrets, and the error ends up in CI logs).
type SpecError struct {
	// Field is the Spec field at fault, one of the Field constants.
	Field string
	// Index is the entry of Uploads, Downloads or Runtimes at fault; 0
	// for the other fields.
	Index int
	// Path is the part of the entry at fault: "Local" or "Remote" for an
	// upload or download, the variable's name for Env (up to an '=' in
	// it, then "=…": what follows may be a value), "" otherwise.
	Path string
	// Empty is true when the entry (or its Path) is empty or white space
	// only: an unset variable in the caller's script, most often.
	// Reason says what is wrong either way.
	Empty bool
	// Reason says what is wrong, as a phrase.
	Reason string
}

// Error is "Spec.FIELD[INDEX].PATH: REASON".
func (e *SpecError) Error() string {
	where := "job spec: " + e.Field
	switch e.Field {
	case FieldUploads, FieldDownloads, FieldRuntimes:
		where += fmt.Sprintf("[%d]", e.Index)
	}
	switch {
	case e.Field == FieldEnv:
		where += fmt.Sprintf("[%q]", e.Path)
	case e.Path != "":
		where += "." + e.Path
	}
	return where + ": " + e.Reason
}

// ErrorCode returns CodeInvalidSpec.
func (e *SpecError) ErrorCode() string { return CodeInvalidSpec }

// Validate checks s as sandbox run checks its flags, and returns the first
// mistake as a *SpecError, or nil. In this order:
//
//   - an upload whose Local is empty or white space (there is nothing to
//     send), or whose Remote is not a sandbox path (on Windows one with a
//     drive or a '\': a path of this machine, see
//     transfer.SandboxPathProblem); an empty Remote is the sandbox root;
//   - a download whose Remote is empty or white space (it would bring back
//     the command's whole working directory), or is not a sandbox path;
//   - a runtime that is empty or white space (an install of nothing);
//   - an Env name that a POSIX shell cannot export (see ValidEnvName);
//   - a negative Timeout (0 means none; a negative one meant none too);
//   - a Command of white space only, which the sandbox's shell runs as an
//     empty line and reports as success: most often a variable left unset.
//
// Run calls it first.
func (s Spec) Validate() error {
	for i, u := range s.Uploads {
		if strings.TrimSpace(u.Local) == "" {
			return &SpecError{Field: FieldUploads, Index: i, Path: "Local", Empty: true, Reason: "names no local path"}
		}
		if problem := transfer.SandboxPathProblem(localOS, u.Remote); problem != "" {
			return &SpecError{Field: FieldUploads, Index: i, Path: "Remote", Reason: problem}
		}
	}
	for i, d := range s.Downloads {
		if strings.TrimSpace(d.Remote) == "" {
			return &SpecError{Field: FieldDownloads, Index: i, Path: "Remote", Empty: true, Reason: "names no sandbox path"}
		}
		if problem := transfer.SandboxPathProblem(localOS, d.Remote); problem != "" {
			return &SpecError{Field: FieldDownloads, Index: i, Path: "Remote", Reason: problem}
		}
	}
	for i, r := range s.Runtimes {
		if strings.TrimSpace(r) == "" {
			return &SpecError{Field: FieldRuntimes, Index: i, Empty: true, Reason: "is empty"}
		}
	}
	names := make([]string, 0, len(s.Env))
	for k := range s.Env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !ValidEnvName(k) {
			name := k
			if i := strings.IndexByte(name, '='); i >= 0 {
				name = name[:i] + "=…"
			}
			return &SpecError{Field: FieldEnv, Path: name, Empty: strings.TrimSpace(k) == "", Reason: "the name must match [A-Za-z_][A-Za-z0-9_]*"}
		}
	}
	if s.Timeout < 0 {
		return &SpecError{Field: FieldTimeout, Reason: fmt.Sprintf("%s is negative (0 means no limit)", s.Timeout)}
	}
	if strings.TrimSpace(s.Command) == "" {
		return &SpecError{Field: FieldCommand, Empty: true, Reason: "is empty: the sandbox would run nothing and report success"}
	}
	return nil
}
