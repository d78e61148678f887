package sandboxinit

import "golang.org/x/sys/unix"

// EndFd returns, for a command an init runs, a new descriptor that polls
// readable once the init has reported the command's end (or has died),
// after which Wait returns without waiting: a caller that watches other
// descriptors anyway (the command's output) can notice the end itself
// instead of keeping a goroutine blocked in Wait. The caller closes it.
// It is -1 with ended set when the end is already known (the report came
// with the start's), and -1 alone when the caller must wait in Wait: the
// command has no init (Direct mode), or no descriptor was left to spare.
//
// The descriptor is a duplicate of this side of the control socket, so
// that the init's end still makes it readable after a Kill has closed
// the socket's own descriptor.
func (c *Cmd) EndFd() (fd int, ended bool) {
	if c.ini == nil {
		// Direct mode, or it never started (Wait returns at once).
		return -1, c.cmd == nil
	}
	if c.ini.msgs.Buffered() > 0 {
		// Only the end follows the start's report.
		return -1, true
	}
	rc, err := c.ini.ctl.SyscallConn()
	if err != nil {
		return -1, true
	}
	fd = -1
	if cerr := rc.Control(func(u uintptr) {
		fd, err = unix.FcntlInt(u, unix.F_DUPFD_CLOEXEC, 0)
	}); cerr != nil {
		// The socket was closed: the init was killed, and Wait does
		// not wait for long.
		return -1, true
	}
	if err != nil {
		// No descriptor to spare (EMFILE): the command may run for
		// long yet, so the caller waits in Wait.
		return -1, false
	}
	return fd, false
}

// reported says whether the init has written to the control socket, or
// closed it, since it was last read: after the start's report, only the
// end's comes unasked (a retire line first, at most), so the command
// has ended. A closed socket says yes too: the init was killed already.
func (ini *initProc) reported() bool {
	rc, err := ini.ctl.SyscallConn()
	if err != nil {
		return true
	}
	ready := true
	if cerr := rc.Control(func(u uintptr) {
		fds := []unix.PollFd{{Fd: int32(u), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, 0)
			if err == unix.EINTR {
				continue
			}
			ready = err == nil && n > 0
			return
		}
	}); cerr != nil {
		return true
	}
	return ready
}
