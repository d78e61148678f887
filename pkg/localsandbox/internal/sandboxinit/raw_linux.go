package sandboxinit

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The init makes the system calls of a command raw, without telling the Go
// scheduler: a system call it is told of wakes its monitor thread (sysmon)
// from the deep sleep of an idle process, and the monitor then polls every
// 20 µs for a while. In a process that sleeps between commands, that
// polling was most of what a command cost the init. Each call here returns
// at once: the control socket is non-blocking, and waits happen in the
// runtime's poller.

func rawErr(e syscall.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}

func rawWrite(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), rawErr(e)
}

func rawClose(fd int) {
	_, _, _ = syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(fd), 0, 0)
}

func rawChdir(path string) error {
	p, err := syscall.BytePtrFromString(path)
	if err != nil {
		return err
	}
	_, _, e := syscall.RawSyscall(syscall.SYS_CHDIR, uintptr(unsafe.Pointer(p)), 0, 0)
	return rawErr(e)
}

func rawRecvmsg(fd int, p, oob []byte, flags int) (n, oobn int, err error) {
	var iov unix.Iovec
	iov.Base = &p[0]
	iov.SetLen(len(p))
	var msg unix.Msghdr
	msg.Iov = &iov
	msg.SetIovlen(1)
	msg.Control = &oob[0]
	msg.SetControllen(len(oob))
	r, _, e := syscall.RawSyscall(syscall.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), uintptr(flags))
	return int(r), int(msg.Controllen), rawErr(e)
}

// rawPread reads from fd at offset off (a file that never blocks: the
// mount table).
func rawPread(fd int, p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := syscall.RawSyscall6(syscall.SYS_PREAD64, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), uintptr(off), 0, 0)
	return int(n), rawErr(e)
}

// rawPollNow polls fd for events without waiting, and returns the events
// it has (0 when none).
func rawPollNow(fd int, events int16) (int16, error) {
	p := [1]unix.PollFd{{Fd: int32(fd), Events: events}}
	var ts unix.Timespec
	n, _, e := syscall.RawSyscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&p[0])), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	if n == 0 {
		return 0, nil
	}
	return p[0].Revents, nil
}

// rawReadable reports whether fd is readable now (or has an error or a
// hang-up to report, which a read then returns).
func rawReadable(fd int) bool {
	rev, err := rawPollNow(fd, unix.POLLIN)
	return err == nil && rev != 0
}

// rawWait4 is wait4 with WNOHANG added: it never blocks.
func rawWait4(pid int, ws *syscall.WaitStatus, options int) (int, error) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_WAIT4, uintptr(pid), uintptr(unsafe.Pointer(ws)), uintptr(options|syscall.WNOHANG), 0, 0, 0)
	return int(r), rawErr(e)
}
