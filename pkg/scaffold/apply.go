package scaffold

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
		if f.Action == ActionCreate {
			// The plan may be stale: never clobber a file that appeared since.
			if _, err := os.Lstat(full); !errors.Is(err, fs.ErrNotExist) {
				return fail(f.Path, fmt.Errorf("%s appeared after the plan was made", f.Path))
			}
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
		if err := os.Mkdir(missing[i], 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		d := missing[i]
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

// WriteFileAtomic writes data to name through a temporary file in the same
// directory and a rename, so readers and crashes see either the old file or
// the complete new one, never a prefix.
func WriteFileAtomic(name string, data []byte, perm fs.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".nimbus-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
