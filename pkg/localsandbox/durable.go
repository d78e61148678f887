package localsandbox

import (
	"errors"
	"os"
	"path"
	"runtime"
	"syscall"
)

// A change to a sandbox's files (writeFile, mkdir, rename, deleteFile,
// chmod, and the directories ready and exec make) is answered ok only
// once it is on the disk, as the Worker answers once its storage has
// it: a write's new file is flushed before it takes the target's name,
// and the directory that holds the name is flushed after; a rename
// flushes the file it moves first (a command may have written it), then
// both directories. A failure of any step is the op's error (the data may or may not have been kept; a
// write whose file could not be flushed leaves the old content). A delete
// flushes the directory that held the name, a chmod the file's inode.
// Windows cannot flush a directory, nor a file opened only to read it:
// there the name and the mode are left to the file system.

// syncFault, set by tests only, is consulted before each step that makes a
// change durable ("fsync" of a new file, "rename" of it over its target,
// "fsync-dir" of the directory holding a new name or a name removed,
// "fsync" of a file whose mode changed too): an error it returns
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

// syncRegular flushes the data of name in root r when it is a regular
// file that can be opened to read; anything else (a directory, whose
// entries are flushed as they change; a FIFO; a file without read
// permission) is left as it is.
func syncRegular(r *os.Root, name string) error {
	f := openInode(r, name)
	if f == nil {
		return nil
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	return dirSyncErr(syncFile(f))
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
	return syncDir(r, dir)
}

// syncDir opens directory dir of root r and flushes it, without a fault
// hook: the callers consult it for their own step.
func syncDir(r *os.Root, dir string) error {
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

// openInode opens name of root r to flush its inode after a change of
// mode (syncInode), or returns nil when it cannot be opened that way (no
// read permission, a socket) or need not be (Windows). Without blocking:
// a FIFO would wait for a writer.
func openInode(r *os.Root, name string) *os.File {
	if runtime.GOOS == "windows" {
		return nil
	}
	f, err := r.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil
	}
	return f
}

// syncInode flushes the inode of name in root r after its mode changed:
// through f, opened by openInode, or, when it could not be opened (a mode
// that leaves no read permission), through its directory, which on a
// journaling file system commits the change with it. A file system that
// cannot flush the file (EINVAL or ENOTSUP, a FIFO's) leaves nothing more
// to do.
func syncInode(r *os.Root, name string, f *os.File) error {
	if err := fault("fsync"); err != nil {
		return err
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	if f != nil {
		return dirSyncErr(f.Sync())
	}
	return syncDir(r, path.Dir(name))
}
