package scaffold

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/nimbus-sh/nimbus/internal/regularfile"
)

// Action says what applying a plan does to one file.
type Action string

const (
	// ActionCreate: the file does not exist and will be created.
	ActionCreate Action = "create"
	// ActionIdentical: the file exists with the same content and is left alone.
	ActionIdentical Action = "identical"
	// ActionOverwrite: the file exists with other content and will be replaced
	// (only planned when forced).
	ActionOverwrite Action = "overwrite"
)

// PlannedFile is one project file and what applying the plan does to it.
type PlannedFile struct {
	File
	// Action is what applying the plan does to the file.
	Action Action
	// previous holds the content and mode being overwritten, so that a failed
	// apply can put them back.
	previous     []byte
	previousMode fs.FileMode
}

// Plan is the result of comparing a rendered project with a directory. It is
// computed without changing anything, so it doubles as the dry-run report.
type Plan struct {
	// Dir is the absolute target directory.
	Dir string
	// DirExists says whether Dir existed when the plan was made.
	DirExists bool
	// Existing lists the entries Dir already held (sorted, top level only).
	Existing []string
	// Files lists every project file in write order.
	Files []PlannedFile
}

// PlanOptions tune NewPlan.
type PlanOptions struct {
	// Force allows a non-empty directory; only the project's own files are
	// then overwritten and nothing else is touched.
	Force bool
}

// Changes returns the number of files applying the plan would write.
func (p *Plan) Changes() int {
	n := 0
	for _, f := range p.Files {
		if f.Action != ActionIdentical {
			n++
		}
	}
	return n
}

// NewPlan compares project with dir. It refuses a non-empty dir unless
// opts.Force is set, and refuses (even when forced) anything on disk that
// applying could not replace cleanly, such as a directory where a file goes.
// dir must be absolute; it is cleaned.
func NewPlan(ctx context.Context, dir string, project *Project, opts PlanOptions) (*Plan, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("scaffold: NewPlan needs an absolute directory, got %q", dir)
	}
	plan := &Plan{Dir: filepath.Clean(dir)}

	info, err := os.Stat(plan.Dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Missing: Apply creates it with its parents, unless the target or
		// a parent is a link to nowhere, which Apply could not create.
		if err := checkDanglingLink(plan.Dir); err != nil {
			return nil, err
		}
	case errors.Is(err, syscall.ENOTDIR):
		return nil, conflictError(plan.Dir, "", "a parent of the target is a file, not a directory", err)
	case err != nil:
		return nil, &Error{Code: CodeWriteFailed, Message: fmt.Sprintf("cannot inspect %s", plan.Dir), Err: err}
	case !info.IsDir():
		return nil, conflictError(plan.Dir, "", "the target exists and is not a directory", nil)
	default:
		plan.DirExists = true
		entries, err := os.ReadDir(plan.Dir)
		if err != nil {
			return nil, &Error{Code: CodeWriteFailed, Message: fmt.Sprintf("cannot read %s", plan.Dir), Err: err}
		}
		for _, e := range entries {
			plan.Existing = append(plan.Existing, e.Name())
		}
	}
	if len(plan.Existing) > 0 && !opts.Force {
		return nil, notEmptyError(plan.Dir, plan.Existing, project)
	}

	for _, f := range project.Files {
		pf := PlannedFile{File: f, Action: ActionCreate}
		if plan.DirExists {
			if err := pf.inspect(plan.Dir); err != nil {
				return nil, err
			}
		}
		plan.Files = append(plan.Files, pf)
	}
	return plan, nil
}

// checkDanglingLink refuses a missing target dir when it, or the nearest
// of its parents that is there at all, is a symbolic link whose target does
// not exist: following it fails, and creating the directory in its place
// would mean removing the user's link.
func checkDanglingLink(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		info, err := os.Lstat(d)
		if err == nil {
			if info.Mode()&fs.ModeSymlink == 0 {
				return nil
			}
			target, _ := os.Readlink(d)
			return conflictError(dir, "", fmt.Sprintf("%s is a symbolic link to %s, which does not exist", d, target), nil)
		}
		if filepath.Dir(d) == d {
			return nil
		}
	}
}

// inspect decides the action for one file of an existing directory.
func (pf *PlannedFile) inspect(dir string) error {
	if err := checkParents(dir, pf.Path); err != nil {
		return err
	}
	full := filepath.Join(dir, filepath.FromSlash(pf.Path))
	info, err := os.Lstat(full)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case errors.Is(err, syscall.ENOTDIR):
		return conflictError(dir, pf.Path, "a parent directory of "+pf.Path+" exists as a file", err)
	case err != nil:
		return &Error{Code: CodeWriteFailed, Message: "cannot inspect " + full, Paths: []string{pf.Path}, Err: err}
	case !info.Mode().IsRegular():
		return conflictError(dir, pf.Path, fmt.Sprintf("%s exists and is not a regular file (%s)", pf.Path, fileKind(info.Mode())), nil)
	}
	// Read through regularfile: what was checked above may have been
	// replaced by a named pipe since, and the copy kept for a rollback
	// is bounded.
	old, err := regularfile.ReadFile(full, maxPrevious)
	if errors.Is(err, regularfile.ErrNotRegular) || errors.Is(err, regularfile.ErrTooLarge) {
		return conflictError(dir, pf.Path, pf.Path+" exists and is "+regularfile.Reason(err), nil)
	}
	if err != nil {
		return &Error{Code: CodeWriteFailed, Message: "cannot read " + full, Paths: []string{pf.Path}, Err: err}
	}
	pf.previous, pf.previousMode = old, info.Mode().Perm()
	pf.Action = ActionOverwrite
	if bytes.Equal(old, pf.Data) {
		pf.Action = ActionIdentical
	}
	return nil
}

// checkParents refuses a symbolic link among the directories between dir
// and the project file rel: writing through it would put the file
// wherever the link points, possibly outside the project. (A link at dir
// itself, or above it, is the user's choice of target and is followed.)
func checkParents(dir, rel string) error {
	parts := strings.Split(rel, "/")
	p := dir
	for i, part := range parts[:len(parts)-1] {
		p = filepath.Join(p, part)
		info, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil // created by Apply as a real directory
		case errors.Is(err, syscall.ENOTDIR):
			return conflictError(dir, rel, "a parent directory of "+rel+" exists as a file", err)
		case err != nil:
			return &Error{Code: CodeWriteFailed, Message: "cannot inspect " + p, Paths: []string{rel}, Err: err}
		case info.Mode()&fs.ModeSymlink != 0:
			link := strings.Join(parts[:i+1], "/")
			target, _ := os.Readlink(p)
			return conflictError(dir, rel, fmt.Sprintf("%s is a symbolic link (to %s); nimbus init does not write through links, which could put %s outside the project", link, target, rel), nil)
		case !info.IsDir():
			return conflictError(dir, rel, "a parent directory of "+rel+" exists as a file", nil)
		}
	}
	return nil
}

// maxPrevious bounds the copy of a file an overwrite keeps to restore it
// if the scaffold fails: the files nimbus init writes are small, a bigger
// one in their place is not one of them.
const maxPrevious = 16 << 20

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	default:
		return "a special file"
	}
}

func conflictError(dir, rel, why string, err error) *Error {
	e := &Error{
		Code:    CodeTargetConflict,
		Message: fmt.Sprintf("cannot scaffold into %s: %s", dir, why),
		Hint:    "move it out of the way or choose another directory (--force only replaces regular files)",
		Err:     err,
	}
	if rel != "" {
		e.Paths = []string{rel}
	}
	return e
}

// notEmptyError lists what is in the way and which of those --force would
// overwrite, so the user can decide without another run.
func notEmptyError(dir string, existing []string, project *Project) *Error {
	var overwritten []string
	for _, f := range project.Files {
		top, _, _ := strings.Cut(f.Path, "/")
		if slices.Contains(existing, top) && !slices.Contains(overwritten, f.Path) {
			overwritten = append(overwritten, f.Path)
		}
	}
	hint := "use --force to write the project files into it anyway; other files are kept"
	if len(overwritten) > 0 {
		hint = fmt.Sprintf("use --force to write the project files into it anyway (it may overwrite %s; other files are kept)", strings.Join(overwritten, ", "))
	}
	return &Error{
		Code:    CodeTargetNotEmpty,
		Message: fmt.Sprintf("directory %s is not empty (in the way: %s); use --force to write into it", dir, summarize(existing, 8)),
		Hint:    hint,
		Flag:    "--force",
		Paths:   slices.Clone(existing),
	}
}

func summarize(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:max], ", "), len(names)-max)
}
