package localsandbox

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// replaceFile moves the new file tmp over target, both entries of
// directory d. An existing target is exchanged
// with tmp (renameat2 RENAME_EXCHANGE) and the old file, now at tmp,
// removed: readers see the old content or the new, as with a rename over
// it, but ext4 does not flush the new file's data first as it does for a
// rename over an existing file (auto_da_alloc), which costs a write to the
// disk per replaced file. Filesystems without exchange get the rename.
func replaceFile(d *os.Root, tmp, target string, exists bool) error {
	if exists {
		if f, err := d.OpenFile(".", os.O_RDONLY|unix.O_DIRECTORY, 0); err == nil {
			ok, err := exchangeAt(f, tmp, target)
			f.Close()
			if ok || err != nil {
				return err
			}
		}
	}
	return d.Rename(tmp, target)
}

// exchangeAt exchanges tmp and target in directory d and removes the old
// file, now at tmp; ok false means the filesystem cannot exchange.
func exchangeAt(d *os.File, tmp, target string) (ok bool, err error) {
	rc, err := d.SyscallConn()
	if err != nil {
		return false, nil
	}
	_ = rc.Control(func(fd uintptr) {
		ok, err = exchangeFD(int(fd), tmp, target)
	})
	return ok, err
}

// exchangeFD is exchangeAt on a directory descriptor.
func exchangeFD(dfd int, tmp, target string) (ok bool, err error) {
	var uerr error
	xerr := unix.Renameat2(dfd, tmp, dfd, target, unix.RENAME_EXCHANGE)
	if xerr == nil {
		if uerr = unix.Unlinkat(dfd, tmp, 0); uerr != nil {
			// What was at target changed under us into something that is
			// not a file (a directory): put it back.
			_ = unix.Renameat2(dfd, tmp, dfd, target, unix.RENAME_EXCHANGE)
		}
	}
	switch {
	case xerr == unix.EINVAL || xerr == unix.ENOSYS || xerr == unix.EOPNOTSUPP || xerr == unix.ENOENT:
		// No exchange here (or the target went away): rename.
		return false, nil
	case xerr != nil:
		return false, &os.LinkError{Op: "rename", Old: tmp, New: target, Err: xerr}
	case uerr != nil:
		return false, &os.PathError{Op: "unlink", Path: target, Err: syscall.EISDIR}
	}
	return true, nil
}
