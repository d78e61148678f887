package sandboxinit

import (
	"os"

	"golang.org/x/sys/unix"
)

// awaitExit returns once the child pid has ended, so that a Wait for it
// returns at once; it returns early, leaving the wait to Wait, when the
// kernel offers no pollable pidfd (before Linux 5.10).
//
// os.Process.Wait waits in waitid(2), a blocking system call that holds a
// thread of the server until the child ends, and the Go runtime keeps
// every thread it makes (48 KiB of g0 and signal stacks each). The server
// reaps each init it evicts, up to 256 at a time after a burst, so it
// waits here in the runtime's poller instead, on a pidfd of the child
// (readable once it has ended), and holds the descriptor only while it
// waits. pid must be an unwaited child of this process: it cannot be
// reused until it is waited for, so the pidfd is the child's.
func awaitExit(pid int) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return
	}
	// A non-blocking descriptor: os registers it with the poller.
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	// Read calls the function again each time the pidfd becomes readable,
	// until it returns true; an error (not pollable) ends the wait too.
	_ = rc.Read(func(fd uintptr) bool {
		var info unix.Siginfo
		// WNOWAIT leaves the child to Wait, which gets its status.
		err := unix.Waitid(unix.P_PIDFD, int(fd), &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		return err != nil || info.Signo != 0
	})
}
