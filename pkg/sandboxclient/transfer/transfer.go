// Package transfer moves files and directory trees between the local
// filesystem and a remote sandbox: the logic behind `nimbus sandbox cp`,
// `sync` and the upload and download steps of `run`.
//
// Files of any size: writes above the single-request limit are split into
// parts written next to the target, joined in the sandbox with one cat,
// checked (size, then a sha256 computed in the sandbox or sampled ranges),
// and renamed into place; reads above the single-read limit use readRange
// chunks in parallel. Memory stays bounded by the parts in flight, which are
// streamed, never buffered whole.
//
// Trees are walked first (with the ignore rules of package ignore), then
// copied with bounded parallelism; a file that fails is reported and the
// rest goes on. Symlinks are copied as symlinks, executable bits are kept,
// and downloads respect the umask. Nothing is printed: progress goes to an
// Observer.
package transfer

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/nimbus-sh/nimbus/internal/hostpath"
	"github.com/nimbus-sh/nimbus/pkg/ignore"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// Default bounds.
const (
	// DefaultParallel is the number of files in flight at once, and of
	// transfer requests in flight at once.
	DefaultParallel = 8
	// DefaultPartParallel is the number of parts (or read ranges) of one big
	// file in flight at once.
	DefaultPartParallel = 4
)

// Error codes of this package.
const (
	// CodeIsDirectory: a directory was given without recursion.
	CodeIsDirectory = "E_IS_DIRECTORY"
	// CodeNotFound: the source does not exist.
	CodeNotFound = "E_NOT_FOUND"
	// CodeBadTarget: the arguments do not name exactly one remote side.
	CodeBadTarget = "E_CP_TARGET"
	// CodeNoName: the local source is a root ("/", `C:\`, a share),
	// which has no name for its copy inside a sandbox directory.
	CodeNoName = "E_CP_NO_NAME"
	// CodeLocalIO: the local filesystem failed.
	CodeLocalIO = "E_LOCAL_IO"
	// CodeVerify: a joined file did not match what was sent.
	CodeVerify = "E_TRANSFER_VERIFY"
	// CodeJoin: the sandbox could not join the parts of a big file.
	CodeJoin = "E_TRANSFER_JOIN"
	// CodeChanged: a file changed size while it was copied.
	CodeChanged = sc.CodeFileChanged
	// CodeConflict: the destination has another kind of entry in the way.
	CodeConflict = "E_TRANSFER_CONFLICT"
	// CodeUnsafePath: a remote listing named a path outside the tree.
	CodeUnsafePath = "E_UNSAFE_PATH"
	// CodeIgnoreFile: an ignore file could not be read.
	CodeIgnoreFile = "E_IGNORE_FILE"
	// CodePartial: a tree copy finished with some paths failed.
	CodePartial = "E_TRANSFER_PARTIAL"
	// CodeNoParent: the directory a copy's destination goes in does not
	// exist, and Options.MkPath was not set (Error.Dir names it).
	CodeNoParent = "E_CP_NO_PARENT"
)

// Error is a transfer failure detected locally.
type Error struct {
	// Code is one of the Code constants above, stable for scripts to match on.
	Code string
	// Message is the human-readable description, naming the path
	// involved.
	Message string
	// Err is the underlying cause (a local I/O error, say); nil when the
	// failure was detected by the transfer itself.
	Err error
	// Dir is, for CodeNoParent, the directory that does not exist: a
	// sandbox path (Remote set) or a local one. For CodeNotFound of a
	// sandbox source it is the directory that should have held it (the
	// parent of the path the caller named, resolved), or "" when not
	// known.
	Dir string
	// Remote is set when Dir is a sandbox path.
	Remote bool
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// PartialError is returned by tree copies when some paths failed; every
// other path was copied. Failures lists them in the order they were found.
type PartialError struct {
	// Failures are the paths that failed, in the order they were found;
	// never empty.
	Failures []Failure
	// Total is the number of paths that were attempted.
	Total int
}

// Error summarises the failures.
func (e *PartialError) Error() string {
	if len(e.Failures) == 1 {
		return "1 path failed: " + e.Failures[0].String()
	}
	return fmt.Sprintf("%d paths failed (first: %s)", len(e.Failures), e.Failures[0].String())
}

// Failure is one path that could not be read or copied.
type Failure struct {
	// Path is the source path (local, or sandbox path).
	Path string `json:"path"`
	// Code is a stable code (E_LOCAL_IO, E_NIMBUS_REMOTE_RPC, …).
	Code string `json:"code"`
	// Message says what went wrong.
	Message string `json:"error"`
	// Err is the cause.
	Err error `json:"-"`
}

// String renders "path: message".
func (f Failure) String() string {
	if strings.Contains(f.Message, f.Path) {
		return f.Message
	}
	return f.Path + ": " + f.Message
}

// failure builds a Failure from any error.
func failure(p string, err error) Failure {
	f := Failure{Path: p, Message: err.Error(), Err: err, Code: "E_TRANSFER"}
	var te *Error
	var re *sc.RemoteError
	var ce *sc.Error
	switch {
	case errors.As(err, &te):
		f.Code = te.Code
	case errors.As(err, &re):
		f.Code = re.Code
		f.Message = re.Message
	case errors.As(err, &ce):
		f.Code = ce.Code
	case errors.Is(err, errCanceled):
		f.Code = "E_INTERRUPTED"
	}
	var le *LeftoverError
	if errors.As(err, &le) && !strings.Contains(f.Message, le.note()) {
		f.Message += le.note()
	}
	return f
}

var errCanceled = errors.New("canceled")

// Options control a copy.
type Options struct {
	// Recursive allows directories (cp -r).
	Recursive bool
	// Parallel bounds files in flight and transfer requests in flight;
	// 0 means DefaultParallel.
	Parallel int
	// PartParallel bounds the parts of one big file in flight; 0 means
	// DefaultPartParallel.
	PartParallel int
	// PartSize is the size of the parts of a split write; 0 means the
	// client's write limit. It never exceeds that limit.
	PartSize int64
	// Ignore selects the rules that leave paths of a tree out. They apply
	// to directory trees only: a file named explicitly is always copied.
	Ignore ignore.Options
	// DryRun walks the source and reports what would be copied (through
	// the Observer and the Summary) without writing anything.
	DryRun bool
	// Observer receives progress; nil means none.
	Observer Observer
	// MkPath lets Upload and Download create the missing parent
	// directories of their destination, as rsync --mkpath does. Without
	// it they refuse a destination whose directory does not exist
	// (CodeNoParent), as cp, docker cp and scp do, before writing
	// anything: a mistyped destination is not made into a new tree. A
	// directory copied (or a contents source) still creates its
	// destination directory itself, as cp -r does; only its parent must
	// exist. UploadTree and DownloadTree always create theirs.
	MkPath bool
}

func (o Options) parallel() int {
	if o.Parallel <= 0 {
		return DefaultParallel
	}
	return o.Parallel
}

func (o Options) partParallel() int {
	if o.PartParallel <= 0 {
		return DefaultPartParallel
	}
	return o.PartParallel
}

func (o Options) observer() Observer {
	if o.Observer == nil {
		return nopObserver{}
	}
	return o.Observer
}

// Summary counts what was copied.
type Summary struct {
	// Files is how many regular files were copied (for a dry run, would
	// be).
	Files int `json:"files"`
	// Dirs is how many directories were created or found in place (for a
	// dry run, would be).
	Dirs int `json:"dirs"`
	// Symlinks is how many symbolic links were copied as links (for a dry
	// run, would be).
	Symlinks int `json:"symlinks"`
	// Bytes is the total size of the files counted in Files, in bytes.
	Bytes int64 `json:"bytes"`
	// Skipped counts entries that cannot be copied (sockets, devices,
	// fifos); they are reported to the Observer, not as failures.
	Skipped int `json:"skipped"`
	// Excluded counts paths left out by the ignore rules.
	Excluded int `json:"excluded"`
	// Failures lists the paths that failed.
	Failures []Failure `json:"failures"`
	// DryRun is set when nothing was written.
	DryRun bool `json:"dryRun,omitempty"`
	// Entries lists what would be copied, for a dry run only.
	Entries []Entry `json:"entries,omitempty"`
}

// Target is one side of a cp: a local path, or a sandbox id and path.
type Target struct {
	// SandboxID is the sandbox the path is in; "" means a local path.
	SandboxID string
	// Path is the local path, or the sandbox path when SandboxID is set.
	Path string
}

// Remote reports whether the target is in a sandbox.
func (t Target) Remote() bool { return t.SandboxID != "" }

// ParseTarget reads "ID:PATH" as remote and anything else as local. Prefix a
// local path containing ':' with "./" to keep it local. On Windows a path
// that starts with a drive ("C:\x", "C:/x", "C:x") is local.
func ParseTarget(s string) Target {
	if localOS == "windows" && hostpath.HasDrive(s) {
		return Target{Path: s}
	}
	if id, p, ok := strings.Cut(s, ":"); ok && sc.ValidID(id) {
		return Target{SandboxID: id, Path: p}
	}
	return Target{Path: s}
}

// ParsePair checks that exactly one of src and dst is remote, and that the
// sandbox path is no path of this machine (see SandboxPathProblem).
func ParsePair(src, dst string) (Target, Target, error) {
	s, d := ParseTarget(src), ParseTarget(dst)
	if s.Remote() == d.Remote() {
		return s, d, &Error{Code: CodeBadTarget, Message: "exactly one of SRC and DST must be ID:PATH (a sandbox path)"}
	}
	// An empty path, or one of white space only, is refused on either
	// side: it is what "$DIR" gives with DIR unset, and "ID:" would be the
	// sandbox's root (sync --delete would empty it), "" or " " the current
	// directory or a file named " ". The root is "ID:.", the current
	// directory ".".
	for _, t := range []Target{s, d} {
		if strings.TrimSpace(t.Path) != "" {
			continue
		}
		if t.Remote() {
			return s, d, &Error{Code: CodeBadTarget, Message: "the sandbox path of " + strconv.Quote(t.SandboxID+":"+t.Path) + " is empty: write " + t.SandboxID + ":. for the root"}
		}
		return s, d, &Error{Code: CodeBadTarget, Message: "the local path " + strconv.Quote(t.Path) + " is empty: write . for the current directory"}
	}
	for _, t := range []Target{s, d} {
		if problem := SandboxPathProblem(localOS, t.Path); t.Remote() && problem != "" {
			return s, d, &Error{Code: CodeBadTarget, Message: t.SandboxID + ":" + t.Path + ": " + problem}
		}
	}
	return s, d, nil
}

// ContentsOf reports whether a copy's source p names the contents of a
// directory rather than the directory itself: its last name is "." or
// ".." (trailing slashes aside). "DIR/." is the form GNU cp and docker cp
// give that meaning; ".." and "DIR/.." are read as GNU cp reads them (it
// copies into DEST, never into DEST/..): taking the last name as the name
// of the copy would put it in the destination's parent. Every other form,
// "DIR" and "DIR/" alike, names the directory, which lands inside an
// existing destination directory. A local path (local set) may use the
// platform's separator too, and on Windows a drive ("C:..") ends no name.
func ContentsOf(p string, local bool) bool {
	win := local && localOS == "windows"
	isSep := func(c byte) bool { return c == '/' || win && c == '\\' }
	for len(p) > 1 && isSep(p[len(p)-1]) {
		p = p[:len(p)-1]
	}
	last := p
	for i := len(p) - 1; i >= 0; i-- {
		if isSep(p[i]) || win && p[i] == ':' {
			last = p[i+1:]
			break
		}
	}
	return last == "." || last == ".."
}

func localErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		if errors.Is(err, fs.ErrNotExist) {
			return &Error{Code: CodeNotFound, Message: pe.Path + ": no such file or directory", Err: err}
		}
		return &Error{Code: CodeLocalIO, Message: pe.Path + ": " + pe.Err.Error(), Err: err}
	}
	return &Error{Code: CodeLocalIO, Message: err.Error(), Err: err}
}
