package scaffold

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/nimbus-sh/nimbus/internal/atomicfile"
)

// WriteFileFunc writes one file. The default, WriteFileAtomic, never leaves a
// partly written file; tests inject failing writers to exercise rollback.
type WriteFileFunc func(name string, data []byte, perm fs.FileMode) error

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// WriteFile writes each file; nil means WriteFileAtomic.
	WriteFile WriteFileFunc
}

// Result reports what Apply did.
type Result struct {
	// Dir is the absolute project directory.
	Dir string
	// CreatedDir says whether Apply created Dir.
	CreatedDir bool
	// Written lists the files created or overwritten, in write order.
	Written []string
	// Unchanged lists the files that already had the right content.
	Unchanged []string
}

// Apply carries out plan: it creates the directory if needed and writes every
// file that is not identical. If anything fails it undoes its work (removes
// the files and directories it created and restores the files it overwrote)
// and returns an *Error with CodeWriteFailed, so no half-made project is left.
func Apply(ctx context.Context, plan *Plan, opts ApplyOptions) (*Result, error) {
	write := opts.WriteFile
	if write == nil {
		write = WriteFileAtomic
	}
	res := &Result{Dir: plan.Dir, CreatedDir: !plan.DirExists}
	var undo rollback

	fail := func(rel string, err error) (*Result, error) {
		e := &Error{
			Code:    CodeWriteFailed,
			Message: fmt.Sprintf("cannot write %s", filepath.Join(plan.Dir, filepath.FromSlash(rel))),
			Hint:    "nothing was left behind; fix the cause and run the command again",
			Paths:   []string{rel},
			Err:     err,
		}
		if rerr := undo.run(); rerr != nil {
			e.Hint = "rolling back failed too, check the directory by hand: " + rerr.Error()
		}
		return nil, e
	}

	if err := undo.mkdirAll(plan.Dir); err != nil {
		return fail(".", err)
	}
	for _, f := range plan.Files {
		if f.Action == ActionIdentical {
			res.Unchanged = append(res.Unchanged, f.Path)
			continue
		}
		if err := ctx.Err(); err != nil {
			return fail(f.Path, err)
		}
		full := filepath.Join(plan.Dir, filepath.FromSlash(f.Path))
		if err := undo.mkdirAll(filepath.Dir(full)); err != nil {
			return fail(f.Path, err)
		}
		// Checked again right before writing: a link that appeared since
		// the plan must not carry the file out of the project.
		if err := checkParents(plan.Dir, f.Path); err != nil {
			return fail(f.Path, err)
		}
		// The plan may be stale: never clobber a file that appeared since,
		// nor write through a link that replaced a planned file (the writer
		// follows links, which could carry the file out of the project).
		info, err := os.Lstat(full)
		switch {
		case f.Action == ActionCreate && !errors.Is(err, fs.ErrNotExist):
			return fail(f.Path, fmt.Errorf("%s appeared after the plan was made", f.Path))
		case f.Action == ActionOverwrite && err == nil && !info.Mode().IsRegular():
			return fail(f.Path, fmt.Errorf("%s became %s after the plan was made", f.Path, fileKind(info.Mode())))
		}
		if err := write(full, f.Data, f.Mode); err != nil {
			return fail(f.Path, err)
		}
		undo.file(full, f)
		res.Written = append(res.Written, f.Path)
	}
	return res, nil
}

// rollback records what Apply changed, newest last, so it can be undone.
type rollback struct {
	steps []func() error
}

func (r *rollback) file(full string, f PlannedFile) {
	if f.Action == ActionOverwrite {
		prev, mode := f.previous, f.previousMode
		r.steps = append(r.steps, func() error { return WriteFileAtomic(full, prev, mode) })
		return
	}
	r.steps = append(r.steps, func() error { return os.Remove(full) })
}

// mkdirAll creates dir and its missing parents, recording each directory it
// creates.
func (r *rollback) mkdirAll(dir string) error {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		if err := os.Mkdir(d, 0o755); err != nil {
			// Made by someone else since the Stat: not ours to remove.
			// Something there that is not a directory (a link to nowhere)
			// fails here, not later.
			if info, serr := os.Stat(d); errors.Is(err, fs.ErrExist) && serr == nil && info.IsDir() {
				continue
			}
			return err
		}
		r.steps = append(r.steps, func() error { return os.Remove(d) })
	}
	return nil
}

// run undoes the recorded steps, newest first, and reports every failure.
func (r *rollback) run() error {
	var errs []error
	for i := len(r.steps) - 1; i >= 0; i-- {
		if err := r.steps[i](); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	r.steps = nil
	return errors.Join(errs...)
}

// WriteFileAtomic writes data to name with the permissions os.WriteFile
// (and upstream's fs.writeFileSync) gives it: a new file gets perm less the
// umask, an existing file keeps its mode. It writes through a temporary
// file in the same directory and a rename (atomicfile.WriteFile), so
// readers see either the old file or the complete new one, never a prefix.
// It deliberately does not fsync: six fsyncs cost about 25 ms on this class
// of machine (more than the whole init budget of 20 ms), scaffolded files
// are regenerated by running init again, and ext4's auto_da_alloc already
// flushes data before a rename that replaces a file. A symbolic link at
// name would be written through; Apply refuses one before calling this.
func WriteFileAtomic(name string, data []byte, perm fs.FileMode) error {
	return atomicfile.WriteFile(name, data, atomicfile.Options{Perm: perm})
}
