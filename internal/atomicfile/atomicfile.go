// Package atomicfile writes the files nimbus edits or creates
// (wrangler.jsonc, nimbus.yaml, generated secrets) so that a reader, or a
// run interrupted half-way, never sees half a file, and a symlinked config
// stays shared.
package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile replaces path through a temporary file in the same directory,
// synced before a rename, so an interrupted run never leaves a half-written
// file behind. An existing file keeps its permission bits; a new one gets
// perm. A symlink is followed: the file it points at is replaced and the
// link is kept (renaming over the link would turn a shared config into a
// private copy and leave the shared one stale).
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if st, err := os.Stat(path); err == nil {
		perm = st.Mode().Perm()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	name, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		_ = os.Remove(name)
		return err
	}
	return nil
}

// CreateExclusive creates path with data and permission bits perm unless
// something is already there, in which case it fails with an error that
// matches fs.ErrExist and leaves it alone. The file appears whole: it is
// written and synced under a temporary name and then hard-linked into
// place, so another process that finds it (say `nimbus dev token` started
// while `nimbus dev` creates its secret) never reads it empty or half
// written, as it could between an O_EXCL create and the write. On a file
// system without hard links it falls back to that O_EXCL create, removing
// what it wrote if writing fails.
func CreateExclusive(path string, data []byte, perm fs.FileMode) error {
	name, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	defer os.Remove(name)
	err = os.Link(name, path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	if _, serr := os.Lstat(path); serr == nil {
		return &fs.PathError{Op: "create", Path: path, Err: fs.ErrExist}
	}
	// No hard links here (FAT, some network and FUSE file systems).
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
	}
	return err
}

// writeTemp writes data, with permission bits perm, to a new file beside
// path and syncs it; it returns the file's name, for the caller to rename
// or link into place and to remove after a failure. Nothing is left behind
// when it fails itself.
func writeTemp(path string, data []byte, perm fs.FileMode) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return "", err
	}
	return tmp.Name(), nil
}
