// Package regularfile reads the files a user or a project names (a
// wrangler config, an .npmrc, a config file, an --env-file, a program
// given with --file) with one rule: a regular file (a symbolic link to
// one is fine), of at most a given size. Anything else is refused before
// it is read: a named pipe would block the open until some writer came,
// uninterruptibly, and a device or a huge file (/dev/zero, a disk image
// named by mistake) would be read until memory ran out.
//
// The open itself cannot block: the path is checked with Stat first, then
// opened non-blocking (O_NONBLOCK on unix, which a named pipe put there
// after the check opens at once), and the opened file checked again.
package regularfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// ErrNotRegular is what errors.Is finds in the error for a path that is
// not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is what errors.Is finds in the error for a file larger than
// the bound.
var ErrTooLarge = errors.New("file too large")

// NotRegularError is the reason a path is refused: what it is instead.
type NotRegularError struct{ Mode fs.FileMode }

func (e *NotRegularError) Error() string { return Kind(e.Mode) + ", not a regular file" }

// Is makes errors.Is(err, ErrNotRegular) true.
func (e *NotRegularError) Is(target error) bool { return target == ErrNotRegular }

// TooLargeError is the reason a file is refused: more than Max bytes.
type TooLargeError struct{ Max int64 }

func (e *TooLargeError) Error() string { return "larger than " + Size(e.Max) }

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// Kind names what a file of mode m is, for messages: "a directory", "a
// named pipe (FIFO)", ….
func Kind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "a special file"
}

// Size writes a bound for messages: "64 KiB", "1 MiB".
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func check(op, path string, fi fs.FileInfo, max int64) error {
	if !fi.Mode().IsRegular() {
		return &fs.PathError{Op: op, Path: path, Err: &NotRegularError{Mode: fi.Mode()}}
	}
	if max >= 0 && fi.Size() > max {
		return &fs.PathError{Op: op, Path: path, Err: &TooLargeError{Max: max}}
	}
	return nil
}

// Open opens path for reading if it is a regular file of at most max
// bytes (max < 0: any size), without blocking on what is not. The caller
// reads at most max bytes of it still (ReadAll): a file can grow.
func Open(path string, max int64) (*os.File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, asOpen(err)
	}
	if err := check("open", path, fi, max); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|nonblock, 0)
	if err != nil {
		return nil, err
	}
	// What was opened is what is checked: the path may have been
	// replaced since the Stat.
	if fi, err = f.Stat(); err == nil {
		err = check("open", path, fi, max)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// asOpen reports a failed Stat as the open it stands for ("open x: no
// such file or directory"), as os.ReadFile would say it.
func asOpen(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Op == "stat" {
		return &fs.PathError{Op: "open", Path: pe.Path, Err: pe.Err}
	}
	return err
}

// ReadFile reads path, a regular file of at most max bytes.
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := Open(path, max)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadAll(f, path, max)
}

// ReadAll reads r, refusing more than max bytes; path names it in the
// error.
func ReadAll(r io.Reader, path string, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, &fs.PathError{Op: "read", Path: path, Err: &TooLargeError{Max: max}}
	}
	return data, nil
}

// ReadFS is ReadFile for the file name in fsys. With a DirFS the open
// cannot block; with another fs.FS the Stat before it is the check.
func ReadFS(fsys fs.FS, name string, max int64) ([]byte, error) {
	fi, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, asOpen(err)
	}
	if err := check("open", name, fi, max); err != nil {
		return nil, err
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := check("open", name, fi, max); err != nil {
		return nil, err
	}
	return ReadAll(f, name, max)
}

// DirFS is os.DirFS whose Open does not block on a named pipe or device
// (it opens as Open does, without the size bound): ReadFS refuses them
// after the open.
type DirFS string

func (d DirFS) join(op, name string) (string, error) {
	if !fs.ValidPath(name) || runtime.GOOS == "windows" && strings.ContainsAny(name, `\:`) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return filepath.Join(string(d), filepath.FromSlash(name)), nil
}

// Open opens name non-blocking.
func (d DirFS) Open(name string) (fs.File, error) {
	p, err := d.join("open", name)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_RDONLY|nonblock, 0)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			pe.Path = name // as os.DirFS: the name, not the host path
		}
		return nil, err
	}
	return f, nil
}

// Stat stats name, following symbolic links.
func (d DirFS) Stat(name string) (fs.FileInfo, error) {
	p, err := d.join("stat", name)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			pe.Path = name
		}
		return nil, err
	}
	return fi, nil
}

// ReadStream reads at most max bytes of path, a file the user named as an
// input stream (a program's code, an env file), which may be a pipe by
// design (--file <(generate), a named pipe): unlike ReadFile it waits for
// a pipe's writer as reading standard input waits. A directory is refused
// and the size is bounded all the same, so /dev/zero fails at max.
func ReadStream(path string, max int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, asOpen(err)
	}
	if fi.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: &NotRegularError{Mode: fi.Mode()}}
	}
	if fi.Mode().IsRegular() && fi.Size() > max {
		return nil, &fs.PathError{Op: "read", Path: path, Err: &TooLargeError{Max: max}}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadAll(f, path, max)
}

// Reason is err without the operation and path a *fs.PathError repeats,
// for messages that name the path themselves: "a named pipe (FIFO), not a
// regular file", "permission denied".
func Reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Hint is the hint for a file refused by this package's rule, ending with
// alt (what to do instead); "" for another error.
func Hint(err error, alt string) string {
	switch {
	case errors.Is(err, ErrNotRegular):
		return "only a regular file is read, not a pipe, device or directory: " + alt
	case errors.Is(err, ErrTooLarge):
		return "a file this large is not the one meant: " + alt
	}
	return ""
}
