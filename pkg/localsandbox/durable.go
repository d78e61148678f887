package localsandbox

import (
	"errors"
	"os"
	"runtime"
	"syscall"
)

// A change to a sandbox's files (writeFile, mkdir, rename) is answered ok
// only once it is on the disk, as the Worker answers once its storage has
// it: a write's new file is flushed before it takes the target's name,
// and the directory that holds the name is flushed after. A failure of
// either is the op's error (the data may or may not have been kept; a
// write whose file could not be flushed leaves the old content). Windows
// cannot flush a directory: there the name is left to the file system.

// syncFault, set by tests only, is consulted before each step that makes a
// change durable ("fsync" of a new file, "rename" of it over its target,
// "fsync-dir" of the directory holding a new name): an error it returns
// fails that step as the system call's error would.
var syncFault func(step string) error

func fault(step string) error {
	if syncFault != nil {
		return syncFault(step)
	}
	return nil
}

// syncFile flushes f's data to the disk.
func syncFile(f *os.File) error {
	if err := fault("fsync"); err != nil {
		return err
	}
	return f.Sync()
}

// syncRootDir flushes directory dir of root r (its entries: names created,
// removed or renamed in it).
func syncRootDir(r *os.Root, dir string) error {
	if err := fault("fsync-dir"); err != nil {
		return err
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := r.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return dirSyncErr(err)
}

// dirSyncErr is the error of flushing a directory: nil where the file
// system cannot flush a directory at all (EINVAL or ENOTSUP, as some
// network and FUSE file systems answer), where nothing more can be done.
func dirSyncErr(err error) error {
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EOPNOTSUPP) {
		return nil
	}
	return err
}
