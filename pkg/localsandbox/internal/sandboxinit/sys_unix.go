//go:build unix

package sandboxinit

import (
	"os"
	"syscall"
	"unsafe"
)

// signalGroup signals the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) error { return syscall.Kill(-pid, sig) }

// fileID identifies a file (device and inode).
type fileID struct{ dev, ino uint64 }

// idOf identifies the file at path without following a final symlink; the
// zero fileID when there is none.
func idOf(path string) fileID {
	var st syscall.Stat_t
	if syscall.Lstat(path, &st) != nil {
		return fileID{}
	}
	return fileID{uint64(st.Dev), uint64(st.Ino)} //nolint:unconvert // Dev is int32 on some systems
}

// sendWithFiles sends p with the descriptors fds attached (SCM_RIGHTS).
func sendWithFiles(sock int, p []byte, fds []int) (int, error) {
	return syscall.SendmsgN(sock, p, syscall.UnixRights(fds...), nil, 0)
}

// isNonblock reports whether fd is in non-blocking mode.
func isNonblock(fd int) bool {
	flags, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFL, 0)
	return e != 0 || flags&syscall.O_NONBLOCK != 0
}

// ttyProcAttr starts an interactive shell on the terminal that is its
// standard input: leader of a new session, with that terminal as its
// controlling terminal, so that job control and Ctrl-C work.
func ttyProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
}

type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

// pollIn is POLLIN (the same everywhere).
const pollIn = 0x1

// pollNow polls fds without waiting.
func pollNow(fds []pollFd) (int, error) {
	n, _, e := syscall.Syscall(syscall.SYS_POLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)), 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// fdOf0 returns f's descriptor without changing its mode.
func fdOf0(f *os.File) int {
	fd := -1
	if rc, err := f.SyscallConn(); err == nil {
		_ = rc.Control(func(u uintptr) { fd = int(u) })
	}
	return fd
}

// enterable returns the errno chdir(dir) would fail with for this
// process, or nil: dir must be a directory it may search.
func enterable(dir string) error {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return syscall.ENOTDIR
	}
	const searchable = 1 // X_OK
	return syscall.Access(dir, searchable)
}
