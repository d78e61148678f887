package localsandbox

import (
	"math/rand/v2"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

// The commonest file ops, reading and writing a whole regular file, take a
// shorter way on Linux: the file's directory is opened beneath the
// sandbox's directory in one openat2 (RESOLVE_BENEATH: the kernel refuses
// ".." and symlinks that lead out, as os.Root does component by component),
// and the rest is a few raw calls on that directory, without the poller's
// set-up that os.File does for every open. Anything unusual (a symlink as
// the last component, a special file, a path that leads out, a kernel
// without openat2, any error before the op has changed anything) goes the
// general way, which knows the answer.

// resolveBeneath keeps a lookup inside the directory it starts from.
const resolveBeneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS

// rootFDs is the descriptors an open sandbox directory holds: the
// os.Root, the file of openRootDir and the parent of ready's root
// (knownroot_linux.go).
const rootFDs = 3

// openRootDir opens the sandbox's directory as a file for the fast paths
// (nil when it cannot: they are then not taken).
func openRootDir(r *os.Root) *os.File {
	f, err := r.OpenFile(".", os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil
	}
	return f
}

// splitRel splits a root-relative name into its directory and last name;
// ok is false for the root itself.
func splitRel(r string) (dir, base string, ok bool) {
	if r == "." || r == "" {
		return "", "", false
	}
	for i := len(r) - 1; i >= 0; i-- {
		if r[i] == '/' {
			return r[:i], r[i+1:], true
		}
	}
	return ".", r, true
}

// inDir runs fn with a descriptor of the root-relative directory dir. It
// reports false, without calling fn or after fn reported false, when the
// fast path is not taken; fn reports false only before changing anything.
// The sandbox's directory handle is held (rc.Control) while fn runs, so a
// concurrent destroy cannot close it under fn.
func (sb *sandbox) inDir(dir string, fn func(dfd int) bool) bool {
	rd := sb.rootDir
	if rd == nil {
		return false
	}
	rc, err := rd.SyscallConn()
	if err != nil {
		return false
	}
	done := false
	cerr := rc.Control(func(rfd uintptr) {
		dfd := int(rfd)
		if dir != "." {
			how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveBeneath}
			fd, err := openat2(dfd, dir, &how)
			if err != nil {
				return
			}
			defer unix.Close(fd)
			dfd = fd
		}
		done = fn(dfd)
	})
	return cerr == nil && done
}

// openat2 is unix.Openat2 retried on EINTR and EAGAIN (RESOLVE_BENEATH
// answers EAGAIN when a rename raced with the lookup).
func openat2(dfd int, name string, how *unix.OpenHow) (int, error) {
	for tries := 0; ; tries++ {
		fd, err := unix.Openat2(dfd, name, how)
		if (err == unix.EINTR || err == unix.EAGAIN) && tries < 3 {
			continue
		}
		return fd, err
	}
}

// readFileFast is readFile's fast path: handled is false when it was not
// taken.
func (sb *sandbox) readFileFast(r string) (data []byte, found, handled bool) {
	dir, base, ok := splitRel(r)
	if !ok {
		return nil, false, false
	}
	// Bigger files are streamed by the slow path.
	limit := min(sb.s.opts.ReadLimit, streamAbove)
	handled = sb.inDir(dir, func(dfd int) bool {
		var st unix.Stat_t
		if err := unix.Fstatat(dfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			// Missing: the answer is null.
			return err == unix.ENOENT
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size > limit {
			return false
		}
		fd, err := unix.Openat(dfd, base, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return false
		}
		defer unix.Close(fd)
		// The file may have been exchanged between the look and the open.
		if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size > limit {
			return false
		}
		// One read of one more byte than the file has: a regular file
		// that reads short is at its end, so a file that did not grow
		// costs one call.
		buf := make([]byte, st.Size+1)
		n := 0
		for {
			m, err := unix.Read(fd, buf[n:])
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return false
			}
			n += m
			if m == 0 || n < len(buf) {
				break
			}
			// It grew: read on, within the limit.
			if int64(len(buf)) > limit {
				return false
			}
			buf = append(buf, make([]byte, min(int64(len(buf)), limit+1-int64(len(buf))))...)
		}
		data, found = buf[:n], true
		return true
	})
	return data, found, handled
}

// writeFileFast is writeFile's fast path for a regular file or a new one
// (handled is false when it was not taken): the same checks, and a
// complete new file exchanged for the old one, a kept one when it can
// (spare_linux.go).
func (sb *sandbox) writeFileFast(p, r string, data []byte) (handled bool, aerr *sandboxserver.Error) {
	dir, base, ok := splitRel(r)
	if !ok {
		return false, nil
	}
	handled = sb.inDir(dir, func(dfd int) bool {
		var st unix.Stat_t
		exists := true
		switch err := unix.Fstatat(dfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); {
		case err == unix.ENOENT:
			exists = false
		case err != nil, st.Mode&unix.S_IFMT != unix.S_IFREG:
			return false
		default:
			// Permission as an in-place write would have it (root, ACLs).
			fd, err := unix.Openat(dfd, base, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return false
			}
			unix.Close(fd)
		}
		if exists && len(data) > 0 && sb.s.spares.usable(dfd, &st) {
			if done, op, err := sb.s.spares.replace(sb.do, dfd, base, data, st.Mode&0o7777); done {
				if err != nil {
					aerr = fsErr(op, p, &os.PathError{Op: op, Path: p, Err: err})
				} else {
					aerr = syncDirAnswer(dfd, p)
				}
				return true
			}
		}
		aerr = replaceAt(dfd, p, base, data, exists, st.Mode&0o7777)
		return true
	})
	return handled, aerr
}

// replaceAt writes data to a new file next to base in directory dfd and
// puts it in base's place, keeping base's mode (st_mode's permission,
// setuid, setgid and sticky bits) when it exists.
func replaceAt(dfd int, p, base string, data []byte, exists bool, mode uint32) *sandboxserver.Error {
	if len(base) > 200 {
		base = base[:200]
	}
	var tmp string
	var fd int
	for tries := 0; ; tries++ {
		tmp = "." + base + ".nimbus-" + strconv.FormatUint(rand.Uint64()>>16, 36) + ".tmp"
		var err error
		fd, err = unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err == unix.EEXIST && tries < 3 {
			continue
		}
		if err != nil {
			return fsErr("open", p, &os.PathError{Op: "open", Path: tmp, Err: err})
		}
		break
	}
	fail := func(op string, err error) *sandboxserver.Error {
		_ = unix.Unlinkat(dfd, tmp, 0)
		return fsErr(op, p, &os.PathError{Op: op, Path: p, Err: err})
	}
	if err := writeAll(fd, data); err != nil {
		unix.Close(fd)
		return fail("write", err)
	}
	if exists {
		if err := unix.Fchmod(fd, mode); err != nil {
			unix.Close(fd)
			return fail("write", err)
		}
	}
	// On the disk before it takes the name (durable.go).
	if err := syncFD(fd); err != nil {
		unix.Close(fd)
		return fail("fsync", err)
	}
	if err := unix.Close(fd); err != nil {
		return fail("close", err)
	}
	if err := fault("rename"); err != nil {
		return fail("rename", err)
	}
	renamed := false
	if exists {
		ok, err := exchangeFD(dfd, tmp, base)
		if err != nil {
			_ = unix.Unlinkat(dfd, tmp, 0)
			return fsErr("rename", p, err)
		}
		renamed = ok
	}
	if !renamed {
		if err := unix.Renameat(dfd, tmp, dfd, base); err != nil {
			return fail("rename", err)
		}
	}
	return syncDirAnswer(dfd, p)
}

// syncDirAnswer flushes directory dfd after a write to p put a new file in
// it, and is the write's error when that fails.
func syncDirAnswer(dfd int, p string) *sandboxserver.Error {
	if err := syncDirFD(dfd); err != nil {
		return fsErr("fsync", p, &os.PathError{Op: "fsync", Path: p, Err: err})
	}
	return nil
}

// writeAll writes data at the start of the file fd, retrying on EINTR.
func writeAll(fd int, data []byte) error {
	for off := 0; off < len(data); {
		n, err := unix.Pwrite(fd, data[off:], int64(off))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return unix.EIO
		}
		off += n
	}
	return nil
}

// plainDirFast is plainDir in one openat2 that refuses every symlink and
// anything that leads out: a relative walk of r's few components instead
// of an lstat of each component's whole host path. ok is false when the
// kernel cannot answer (no openat2, no handle): then lstat decides.
func (sb *sandbox) plainDirFast(r string) (plain, ok bool) {
	rd := sb.rootDir
	if rd == nil {
		return false, false
	}
	rc, err := rd.SyscallConn()
	if err != nil {
		return false, false
	}
	cerr := rc.Control(func(rfd uintptr) {
		how := unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveBeneath | unix.RESOLVE_NO_SYMLINKS}
		fd, err := openat2(int(rfd), r, &how)
		switch err {
		case nil:
			unix.Close(fd)
			plain, ok = true, true
		case unix.ENOENT, unix.ENOTDIR, unix.ELOOP, unix.EXDEV:
			ok = true
		}
	})
	return plain, ok && cerr == nil
}

// syncFD flushes the data of the new file fd (fdatasync: its size too,
// not its times).
func syncFD(fd int) error {
	if err := fault("fsync"); err != nil {
		return err
	}
	for {
		err := unix.Fdatasync(fd)
		if err != unix.EINTR {
			return err
		}
	}
}

// syncDirFD flushes directory dfd's entries.
func syncDirFD(dfd int) error {
	if err := fault("fsync-dir"); err != nil {
		return err
	}
	for {
		err := unix.Fsync(dfd)
		if err != unix.EINTR {
			return dirSyncErr(err)
		}
	}
}
