package localsandbox

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

// File operations that open files go through here. Opening a FIFO blocks
// until a writer comes, a device may do anything, and a socket cannot be
// opened at all: the type is checked before opening, files are opened
// with O_NONBLOCK, and the type is checked again on the open file (it may
// have been replaced in between). Only regular files (and directories for
// readdir) are accepted.

// notRegular is the failure of a file op on a FIFO, socket or device.
func notRegular(verb, p string, m fs.FileMode) *sandboxserver.Error {
	return sandboxserver.RPCError(fmt.Sprintf("EINVAL: not a regular file (%s), %s '%s'", typeName(m.Type()), verb, cleanPath(p)))
}

// openRead opens a regular file for reading; f is nil (and the error too)
// when it does not exist.
func (sb *sandbox) openRead(p, r, verb string) (f *os.File, fi fs.FileInfo, aerr *sandboxserver.Error) {
	fi, err := sb.root.Stat(r)
	if isNotExist(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fsErr("open", p, err)
	}
	if aerr := checkRegular(verb, p, fi); aerr != nil {
		return nil, nil, aerr
	}
	f, err = sb.root.OpenFile(r, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if isNotExist(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fsErr("open", p, err)
	}
	if fi, err = f.Stat(); err != nil {
		f.Close()
		return nil, nil, fsErr("open", p, err)
	}
	if aerr := checkRegular(verb, p, fi); aerr != nil {
		f.Close()
		return nil, nil, aerr
	}
	return f, fi, nil
}

func checkRegular(verb, p string, fi fs.FileInfo) *sandboxserver.Error {
	switch {
	case fi.IsDir():
		return fsErr(verb, p, syscall.EISDIR)
	case !fi.Mode().IsRegular():
		return notRegular(verb, p, fi.Mode())
	}
	return nil
}

// openDir opens a directory for readdir; anything else is ENOTDIR, without
// ever blocking on a FIFO.
func (sb *sandbox) openDir(p, r string) (*os.File, *sandboxserver.Error) {
	fi, err := sb.root.Stat(r)
	if err != nil {
		return nil, fsErr("scandir", p, err)
	}
	if !fi.IsDir() {
		return nil, fsErr("scandir", p, syscall.ENOTDIR)
	}
	f, err := sb.root.OpenFile(r, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fsErr("scandir", p, err)
	}
	return f, nil
}

// maxSymlinks bounds symlink resolution, as the kernel's ELOOP does.
const maxSymlinks = 40

// writeFile replaces a file's content atomically: the data goes to a
// temporary file in the same directory, flushed to the disk, which is then
// renamed over the target, and the directory flushed: a reader (or a crash
// of the server or of the machine) sees the old content or the new one,
// never a part, and ok means the new one is on the disk (durable.go). The
// parent must exist. An existing file keeps its mode and
// must be writable, as with an in-place write; a symlink is followed (and
// kept); FIFOs, sockets and devices are refused. Hard links to the old
// file keep the old content.
func (sb *sandbox) writeFile(p, r string, data []byte) *sandboxserver.Error {
	if r == "." {
		return fsErr("open", p, syscall.EISDIR)
	}
	target, old, aerr := sb.writeTarget(p, r)
	if aerr != nil {
		return aerr
	}
	dir, base := ".", target
	if i := strings.LastIndexByte(target, '/'); i >= 0 {
		dir, base = target[:i], target[i+1:]
	}
	// The rest happens in the target's directory, opened once: each step
	// names one entry of it.
	d, err := sb.root.OpenRoot(dir)
	if err != nil {
		return fsErr("open", p, err)
	}
	defer d.Close()
	if old != nil {
		// Permission as an in-place write would have it (root, ACLs).
		f, err := d.OpenFile(base, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return fsErr("open", p, err)
		}
		fi, err := f.Stat()
		f.Close()
		if err != nil {
			return fsErr("open", p, err)
		}
		if aerr := checkRegular("open", p, fi); aerr != nil {
			return aerr
		}
	}
	f, tmp, err := createTemp(d, base)
	if err != nil {
		return fsErr("open", p, err)
	}
	fail := func(op string, err error) *sandboxserver.Error {
		f.Close()
		_ = d.Remove(tmp)
		return fsErr(op, p, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail("write", err)
	}
	if old != nil {
		if err := f.Chmod(old.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)); err != nil {
			return fail("write", err)
		}
	}
	// On the disk before it takes the name (durable.go).
	if err := syncFile(f); err != nil {
		return fail("fsync", err)
	}
	if err := f.Close(); err != nil {
		_ = d.Remove(tmp)
		return fsErr("close", p, err)
	}
	err = fault("rename")
	if err == nil {
		err = replaceFile(d, tmp, base, old != nil)
	}
	if err != nil {
		_ = d.Remove(tmp)
		return fsErr("rename", p, err)
	}
	if err := syncRootDir(d, "."); err != nil {
		return fsErr("fsync", p, err)
	}
	return nil
}

// writeTarget resolves symlinks in the last component of r (through the
// root, so they cannot lead out) and returns the name to replace and its
// current info (nil when it does not exist yet). Link targets are joined
// unresolved so that os.Root walks them as the kernel would, ".." included.
func (sb *sandbox) writeTarget(p, r string) (string, fs.FileInfo, *sandboxserver.Error) {
	name := r
	for hops := 0; ; hops++ {
		fi, err := sb.root.Lstat(name)
		if isNotExist(err) {
			return name, nil, nil
		}
		if err != nil {
			return "", nil, fsErr("open", p, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if aerr := checkRegular("open", p, fi); aerr != nil {
				return "", nil, aerr
			}
			return name, fi, nil
		}
		if hops == maxSymlinks {
			return "", nil, fsErr("open", p, syscall.ELOOP)
		}
		t, err := sb.root.Readlink(name)
		if err != nil {
			return "", nil, fsErr("open", p, err)
		}
		if strings.HasPrefix(t, "/") || t == "" {
			return "", nil, fsErr("open", p, errEscape)
		}
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			t = name[:i+1] + t
		}
		name = t
	}
}

// errEscape is a path that leads out of the sandbox (isEscape knows it).
var errEscape = errors.New("path escapes from parent")

// createTemp creates a new file next to base in directory d, hidden and
// marked as nimbus's, and returns it and its name.
func createTemp(d *os.Root, base string) (*os.File, string, error) {
	if len(base) > 200 {
		base = base[:200]
	}
	for tries := 0; ; tries++ {
		var rnd [6]byte
		_, _ = rand.Read(rnd[:])
		name := "." + base + ".nimbus-" + hex.EncodeToString(rnd[:]) + ".tmp"
		f, err := d.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) && tries < 3 {
			continue
		}
		return f, name, err
	}
}
