package localsandbox

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// A whole-file write puts a complete new file in the old one's place, so
// that readers see the old content or the new and never half of either.
// Made naively that is a new inode per write and the old one freed, and
// on ext4 allocating an inode is the costliest part of a small write: it
// searches the inode bitmap, and without a journal it also steps over
// every inode freed in the last minutes (recently_deleted), so the cost
// grows with the write rate. So the server keeps the files that writes
// replace, in a private directory on the same filesystem, and the next
// write fills one of them and exchanges it for its target: no inode is
// allocated or freed, no directory entry added or removed.
//
// A kept file is written again only when nothing can see it: it has one
// link (the private one), no process holds it open (a write lease, which
// the kernel grants only then, nimbus's own reads included), it carries no
// extended attributes or inode flags, and its owner is the one a new file
// would get. Anything else, and a target whose directory gives new files
// a default ACL or inode flags, goes the way of a new file. Handles the
// lease does not see (an O_PATH descriptor, a bind mount: a sandbox's own
// namespace may hold either) still reach a kept file, so a kept file
// only ever takes content of the sandbox whose file it was.

// spareSlots is the number of kept files: writes running at once beyond it
// make new files. Each kept file serves only its own sandbox, so there is
// room for several sandboxes' files.
const spareSlots = 64

// maxSpareSize is the largest replaced file kept (a bigger one is
// removed), and maxSpareBytes the most disk the kept files use together.
const (
	maxSpareSize  = 1 << 20
	maxSpareBytes = 8 << 20
)

// spareFiles is a server's private directory of kept files.
type spareFiles struct {
	dir      *os.File // flock'd while the server lives: see newSpareFiles
	fd       int
	path     string
	uid, gid uint32
	mu       sync.Mutex
	free     []spareSlot // not in use by a write
	bytes    int64       // the size of the files of the free slots

	// life is held (read) by every write using the directory, so that
	// close waits for them before its descriptor goes: a write would
	// otherwise use a descriptor number that may already be another
	// file's.
	life   sync.RWMutex
	closed bool
}

// spareSlot is a name in the spare directory; full when a file is there,
// which came from sandbox owner.
type spareSlot struct {
	name  string
	full  bool
	owner string
	size  int64 // of the file, when full
}

// attrFlags are the inode flags (chattr's) that a file carries or takes
// from its directory when it is made: a kept file with any would pass
// them on, and one without would miss those of the target's directory.
const attrFlags = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x40 | 0x80 | 0x400 | 0x4000 | 0x8000 | 0x800000 | 0x2000000 // FS_{SECRM,UNRM,COMPR,SYNC,IMMUTABLE,APPEND,NODUMP,NOATIME,NOCOMP,JOURNAL_DATA,NOTAIL,NOCOW,DAX}_FL

// noAttrFlags reports whether fd has none of attrFlags (a filesystem
// without inode flags has none).
func noAttrFlags(fd int) bool {
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		return err == unix.ENOTTY || err == unix.EOPNOTSUPP || err == unix.EINVAL
	}
	return flags&attrFlags == 0
}

// newSpareFiles makes the server's directory of kept files under
// dataDir/spare, removing those of servers that are gone (a server holds
// an exclusive flock on its own while it lives, so several servers can
// share a data directory). nil means writes make new files.
func newSpareFiles(dataDir string) *spareFiles {
	parent := filepath.Join(dataDir, "spare")
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil
	}
	if ents, err := os.ReadDir(parent); err == nil {
		for _, e := range ents {
			p := filepath.Join(parent, e.Name())
			if f, err := os.Open(p); err == nil {
				if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
					_ = os.RemoveAll(p)
				}
				f.Close()
			}
		}
	}
	path, err := os.MkdirTemp(parent, "")
	if err != nil {
		return nil
	}
	dir, err := os.Open(path)
	if err == nil {
		err = unix.Flock(int(dir.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	}
	if err != nil {
		if dir != nil {
			dir.Close()
		}
		_ = os.RemoveAll(path)
		return nil
	}
	sp := &spareFiles{dir: dir, fd: int(dir.Fd()), path: path, uid: uint32(os.Geteuid()), gid: uint32(os.Getegid())}
	for i := range spareSlots {
		sp.free = append(sp.free, spareSlot{name: strconv.Itoa(i)})
	}
	return sp
}

// close removes the directory and its files.
func (sp *spareFiles) close() {
	if sp == nil {
		return
	}
	sp.life.Lock()
	defer sp.life.Unlock()
	if sp.closed {
		return
	}
	sp.closed = true
	_ = os.RemoveAll(sp.path)
	sp.dir.Close()
}

// take reserves a slot, preferring one that holds a file of sandbox
// owner, then an empty one.
func (sp *spareFiles) take(owner string) (spareSlot, bool) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	n := len(sp.free)
	if n == 0 {
		return spareSlot{}, false
	}
	i := n - 1
	for j := n - 1; j >= 0; j-- {
		if sp.free[j].full && sp.free[j].owner == owner {
			i = j
			break
		}
		if !sp.free[j].full && sp.free[i].full {
			i = j
		}
	}
	s := sp.free[i]
	sp.free[i] = sp.free[n-1]
	sp.free = sp.free[:n-1]
	if s.full {
		sp.bytes -= s.size
	}
	return s, true
}

// put gives a slot back, removing its file when keeping it would take the
// kept files over maxSpareBytes.
func (sp *spareFiles) put(s spareSlot) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if s.full && sp.bytes+s.size > maxSpareBytes {
		_ = unix.Unlinkat(sp.fd, s.name, 0)
		s.full = false
	}
	if s.full {
		sp.bytes += s.size
	}
	sp.free = append(sp.free, s)
}

// usable reports whether a write over target, described by st, in
// directory dfd may take a kept file: the new file must have the owner,
// group, ACL and inode flags that one created next to the target would
// have.
func (sp *spareFiles) usable(dfd int, st *unix.Stat_t) bool {
	if sp == nil || st.Uid != sp.uid || st.Gid != sp.gid {
		return false
	}
	var dst unix.Stat_t
	if unix.Fstat(dfd, &dst) != nil || dst.Mode&unix.S_ISGID != 0 && dst.Gid != sp.gid {
		return false
	}
	if _, err := unix.Fgetxattr(dfd, "system.posix_acl_default", nil); err != unix.ENODATA && err != unix.EOPNOTSUPP {
		return false
	}
	return noAttrFlags(dfd)
}

// replace writes data to a kept file (or a new one in the spare
// directory) and exchanges it for base in directory dfd of sandbox owner,
// keeping the old file as the slot's. done false means nothing changed
// and the caller makes a new file next to the target; otherwise err, with
// the op that failed, is the write's outcome.
func (sp *spareFiles) replace(owner string, dfd int, base string, data []byte, mode uint32) (done bool, op string, err error) {
	sp.life.RLock()
	defer sp.life.RUnlock()
	if sp.closed {
		return false, "", nil
	}
	s, ok := sp.take(owner)
	if !ok {
		return false, "", nil
	}
	fd := -1
	var size int64
	if s.full && s.owner == owner {
		fd, size = sp.reopen(s.name)
	} else if s.full {
		// Another sandbox's: see above.
		_ = unix.Unlinkat(sp.fd, s.name, 0)
		s.full, s.size = false, 0
	}
	if fd < 0 {
		// A new file, as the write would otherwise have made.
		fd, err = unix.Openat(sp.fd, s.name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			// A file left there (an unlink that failed) counts at the
			// most it can be.
			s.full, s.size = err == unix.EEXIST, maxSpareSize
			sp.put(s)
			return false, "", nil
		}
		var st unix.Stat_t
		// It takes the flags of the spare directory, not the target's.
		if unix.Fstat(fd, &st) != nil || st.Uid != sp.uid || st.Gid != sp.gid || !noAttrFlags(fd) {
			unix.Close(fd)
			sp.discard(s)
			return false, "", nil
		}
		size = 0
	}
	if err := fill(fd, data, size, mode); err != nil {
		unix.Close(fd)
		sp.discard(s)
		return true, "write", err
	}
	// On the disk before it takes the name (durable.go).
	if err := syncFD(fd); err != nil {
		unix.Close(fd)
		sp.discard(s)
		return true, "fsync", err
	}
	if err := unix.Close(fd); err != nil {
		sp.discard(s)
		return true, "close", err
	}
	s.full, s.owner, s.size = true, owner, int64(len(data))
	// The times of a new file, not those of the file it was.
	if err := unix.UtimesNanoAt(sp.fd, s.name, utimeNow[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
		sp.discard(s)
		return false, "", nil
	}
	if err := fault("rename"); err != nil {
		sp.discard(s)
		return true, "rename", err
	}
	if err := unix.Renameat2(sp.fd, s.name, dfd, base, unix.RENAME_EXCHANGE); err != nil {
		// Another filesystem, no exchange there, the target gone, a
		// directory that cannot be written: the caller's way knows what
		// to do, and says it as a write always has.
		sp.put(s)
		return false, "", nil
	}
	// The slot now holds what was at base. If that changed under us into
	// something that is not a file, put it back, as exchangeFD does.
	var old unix.Stat_t
	if err := unix.Fstatat(sp.fd, s.name, &old, unix.AT_SYMLINK_NOFOLLOW); err != nil || old.Mode&unix.S_IFMT == unix.S_IFDIR {
		_ = unix.Renameat2(sp.fd, s.name, dfd, base, unix.RENAME_EXCHANGE)
		sp.discard(s)
		return true, "rename", &os.PathError{Op: "unlink", Path: base, Err: syscall.EISDIR}
	}
	if old.Mode&unix.S_IFMT != unix.S_IFREG || old.Size > maxSpareSize {
		sp.discard(s)
		return true, "", nil
	}
	s.size = old.Size
	sp.put(s)
	return true, "", nil
}

// utimeNow sets both times to the current time.
var utimeNow = [2]unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}}

// reopen opens slot name's kept file for writing when nothing else can see
// it, and returns its size; fd -1 means it was not, and it is removed.
func (sp *spareFiles) reopen(name string) (fd int, size int64) {
	fd, err := unix.Openat(sp.fd, name, unix.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		_ = unix.Unlinkat(sp.fd, name, 0)
		return -1, 0
	}
	var st unix.Stat_t
	ok := unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Nlink == 1 &&
		st.Uid == sp.uid && st.Gid == sp.gid && st.Size <= maxSpareSize
	if ok {
		// Granted only when no other open file (another process's, or a
		// read of nimbus's own still streaming it) refers to the file.
		_, err := unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_WRLCK)
		ok = err == nil
		if ok {
			_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_UNLCK)
		}
	}
	if ok {
		n, err := unix.Flistxattr(fd, nil)
		ok = n == 0 && (err == nil || err == unix.EOPNOTSUPP) && noAttrFlags(fd)
	}
	if !ok {
		unix.Close(fd)
		_ = unix.Unlinkat(sp.fd, name, 0)
		return -1, 0
	}
	return fd, st.Size
}

// discard removes slot s's file and gives the slot back empty.
func (sp *spareFiles) discard(s spareSlot) {
	_ = unix.Unlinkat(sp.fd, s.name, 0)
	s.full, s.size = false, 0
	sp.put(s)
}

// fill makes the file fd of size bytes hold exactly data, with the
// permission bits mode. It writes over the old bytes and cuts what is left
// instead of emptying the file first: ext4 flushes a file to the disk when
// it is closed after being cut to nothing (auto_da_alloc).
func fill(fd int, data []byte, size int64, mode uint32) error {
	if err := writeAll(fd, data); err != nil {
		return err
	}
	if size > int64(len(data)) {
		if err := unix.Ftruncate(fd, int64(len(data))); err != nil {
			return err
		}
	}
	return unix.Fchmod(fd, mode)
}
