package sandboxinit

import (
	"errors"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestEndFdOutOfDescriptors: when no descriptor is left to duplicate the
// control socket, EndFd says to wait in Wait (ended false), not that the
// end is known. A caller told that the end is known calls Wait before it
// reads the output (localsandbox's wait does), and a command with more
// output than its pipe holds never ends then: under load at the
// descriptor limit, a descriptor freed for the command's pipes can be
// taken by another request before the duplicate is made.
func TestEndFdOutOfDescriptors(t *testing.T) {
	dir := sandboxDir(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	c := shell(Reaper, dir, "read x; exit 7")
	c.Stdin = r
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.Started(); err != nil {
		t.Fatal(err)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// Every descriptor under a lowered limit taken.
	low := lim
	low.Cur = 256
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	var fillers []int
	for {
		fd, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if errors.Is(err, syscall.EMFILE) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		fillers = append(fillers, fd)
	}
	fd, ended := c.EndFd()
	for _, f := range fillers {
		syscall.Close(f)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if fd >= 0 {
		syscall.Close(fd)
		t.Fatal("EndFd duplicated a descriptor with none left")
	}
	if ended {
		t.Error("EndFd reports the end of a running command as known when it could not duplicate the control socket")
	}
	w.Close()
	if ex, err := c.Wait(); err != nil || ex != (Exit{Code: 7}) {
		t.Fatalf("Wait: %+v %v, want exit 7", ex, err)
	}
	// The init (not kept: no pool) is reaped in the background: its
	// descriptors are gone before the next test counts them.
	c.ini.waitExit()
}

// TestReportedEndKeepsTheInit: an init asked to kill its command that has
// reported the end is not killed when killGrace runs out before Wait has
// read the report. localsandbox calls Wait once it notices the end
// between writes to the client, and a client slow to read held it past
// killGrace after a genuine timeout: the healthy init was killed, its
// report lost, and the next command of the sandbox waited for a new one.
func TestReportedEndKeepsTheInit(t *testing.T) {
	for _, mode := range []Mode{Reaper, Namespaces} {
		t.Run(mode.String(), func(t *testing.T) {
			p := newPool(t)
			c := pooled(p, mode, sandboxDir(t), "sleep 30")
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			if err := c.Started(); err != nil {
				t.Fatal(err)
			}
			fd, ended := c.EndFd()
			if fd < 0 || ended {
				t.Fatalf("EndFd %d %v", fd, ended)
			}
			defer syscall.Close(fd)
			c.Kill()
			// The init reports the end.
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			for {
				if _, err := unix.Poll(fds, -1); err != unix.EINTR {
					break
				}
			}
			// What the kill timer does once killGrace has run out.
			c.killUnreported(c.ini)
			if ex, err := c.Wait(); err != nil || ex != (Exit{Code: -1, Signal: syscall.SIGKILL}) {
				t.Fatalf("Wait: %+v %v", ex, err)
			}
			if p.Idle() != 1 {
				t.Fatalf("%d idle inits, want the one that reported the end", p.Idle())
			}
			next := pooled(p, mode, sandboxDir(t), "exit 0")
			next.Dir, next.SandboxDir = c.Dir, c.SandboxDir
			if ex := run(t, next); ex != (Exit{}) || next.Pid() != c.Pid() {
				t.Fatalf("%+v, init %d (was %d)", ex, next.Pid(), c.Pid())
			}
		})
	}
}
