package localsandbox

import (
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ready checks that the root (/home/user) is a plain directory inside the
// sandbox on every call, which is a path lookup in the kernel (an openat2
// that refuses symlinks): the costliest part of the cheapest op. Instead,
// once it has been found so, the sandbox keeps a descriptor of the root's
// parent (when that is not the sandbox's directory itself) and the state
// of the directories above the root: inode, modification and change
// times. Removing, renaming or replacing the root, or anything above it,
// changes the times of the directory that held it, so two fstat calls on
// descriptors already open say whether the earlier answer still holds,
// whoever made the change (a command, another nimbus on the same data
// directory, the user). Times are as coarse as a clock tick (a second or
// two on some filesystems), so a state is kept only when it is older than
// stableAge: a change made after that gets other times.

// stableAge is how long the directories above a root must have been
// unchanged for their state to be kept (a variable for tests).
var stableAge = 2 * time.Second

// knownRoot is a root found to be a plain directory and the state then of
// the directories above it: the sandbox's directory and, for a root two
// levels down such as home/user, its parent, held open as parent. Deeper
// roots are not kept (they are looked up every time).
type knownRoot struct {
	rel    string
	parent int // O_PATH descriptor of the parent, -1 when it is the sandbox's directory
	state  [2]dirState
}

// dirState is what changes when a directory's entries do.
type dirState struct {
	ino          uint64
	mtime, ctime unix.Timespec
}

// stateOf returns the state of directory fd; false if it is gone.
func stateOf(fd int) (dirState, bool) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Nlink == 0 {
		return dirState{}, false
	}
	return dirState{ino: st.Ino, mtime: st.Mtim, ctime: st.Ctim}, true
}

// rootKnownPlain reports whether root r was found a plain directory and
// nothing above it changed since.
func (sb *sandbox) rootKnownPlain(r string) bool {
	sb.rootMu.Lock()
	defer sb.rootMu.Unlock()
	k := sb.known
	if k == nil || k.rel != r || sb.rootDirFD < 0 || sb.rootClosed {
		return false
	}
	if st, ok := stateOf(sb.rootDirFD); !ok || st != k.state[0] {
		return false
	}
	if k.parent >= 0 {
		if st, ok := stateOf(k.parent); !ok || st != k.state[1] {
			return false
		}
	}
	return true
}

// checkRootPlain is plainDir(r) for ready: when r is a plain directory and
// the directories above it have been stable for stableAge, their state is
// kept for rootKnownPlain. The state is taken before the check, so that a
// change in between makes it differ from the directories' next state.
func (sb *sandbox) checkRootPlain(r string) bool {
	dir, _, ok := splitRel(r)
	if !ok || strings.Contains(dir, "/") {
		return sb.plainDir(r)
	}
	k := &knownRoot{rel: r, parent: -1}
	sb.rootMu.Lock()
	fd := sb.rootDirFD
	if fd < 0 || sb.rootClosed {
		sb.rootMu.Unlock()
		return sb.plainDir(r)
	}
	st, okSt := stateOf(fd)
	k.state[0] = st
	if okSt && dir != "" {
		how := unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveBeneath | unix.RESOLVE_NO_SYMLINKS}
		if k.parent, _ = openat2(fd, dir, &how); k.parent < 0 {
			k.parent = -1
			okSt = false
		} else if k.state[1], okSt = stateOf(k.parent); !okSt {
			unix.Close(k.parent)
			k.parent = -1
		}
	}
	sb.rootMu.Unlock()
	plain := sb.plainDir(r)
	cutoff := time.Now().Add(-stableAge).UnixNano()
	keep := plain && okSt && k.state[0].ctime.Nano() < cutoff && (k.parent < 0 || k.state[1].ctime.Nano() < cutoff)
	sb.rootMu.Lock()
	defer sb.rootMu.Unlock()
	if !keep || sb.rootDirFD != fd || sb.rootClosed {
		// Not worth keeping, or the handle changed meanwhile.
		if k.parent >= 0 {
			unix.Close(k.parent)
		}
		return plain
	}
	sb.forgetRootLocked()
	sb.known = k
	return plain
}

// forgetRootLocked drops the known root (with its descriptor); rootMu is
// held.
func (sb *sandbox) forgetRootLocked() {
	if sb.known != nil && sb.known.parent >= 0 {
		unix.Close(sb.known.parent)
	}
	sb.known = nil
}

// fileFD returns f's descriptor without putting it in blocking mode (as
// Fd does), -1 when there is none.
func fileFD(f interface {
	SyscallConn() (syscall.RawConn, error)
}) int {
	fd := -1
	if f == nil {
		return fd
	}
	if rc, err := f.SyscallConn(); err == nil {
		_ = rc.Control(func(d uintptr) { fd = int(d) })
	}
	return fd
}
