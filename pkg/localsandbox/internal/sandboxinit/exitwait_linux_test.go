package sandboxinit

import (
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nimbus-sh/nimbus/internal/proctest"
)

// pollablePidfds reports whether this kernel gives non-blocking pidfds
// (Linux 5.10 and later, unless a seccomp filter refuses pidfd_open):
// without them awaitExit leaves the wait to a blocking Wait.
func pollablePidfds(t *testing.T) bool {
	t.Helper()
	fd, err := unix.PidfdOpen(os.Getpid(), unix.PIDFD_NONBLOCK)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// openFds counts this process's descriptors.
func openFds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// reaperState returns the scheduling state ("IO wait", "syscall", ...) of
// the goroutine reaping an init, or "" while there is none.
func reaperState() string { return goroutineState("sandboxinit.(*initProc).reap.func") }

// goroutineState returns the scheduling state of the goroutine whose stack
// has fn in it, or "" while there is none.
func goroutineState(fn string) string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			head, _, _ := strings.Cut(g, "\n")
			_, st, _ := strings.Cut(head, "[")
			st, _, _ = strings.Cut(st, "]")
			st, _, _ = strings.Cut(st, ",")
			return st
		}
	}
	return ""
}

// TestReapHoldsNoThread: the goroutine that reaps an init waits for its
// end in the runtime's poller, not in a blocking waitid (a thread of the
// server's each, kept for good, with hundreds of evicted inits); once the
// init ends it is reaped (no zombie) and none of the descriptors the
// init and its wait used stays open.
func TestReapHoldsNoThread(t *testing.T) {
	// The poller's own descriptors exist before the count.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	w.Close()
	fds := openFds(t)
	ini, err := startInit(Reaper, sandboxDir(t))
	if err != nil {
		t.Fatal(err)
	}
	pid := ini.pid()
	// The init is alive and idle: its reaper waits.
	ini.reap()
	var st string
	proctest.WaitFor(t, "the reaper to wait", func() bool {
		st = reaperState()
		return st == "IO wait" || st == "syscall"
	})
	// Where the kernel has no pollable pidfd, the fallback is the
	// blocking Wait of before; the rest of the test holds either way.
	if want := map[bool]string{true: "IO wait", false: "syscall"}[pollablePidfds(t)]; st != want {
		t.Errorf("the reaper of a live init waits in state %q, want %s (pollable pidfds: %v)", st, want, want == "IO wait")
	}
	ini.kill()
	select {
	case <-ini.exited:
	case <-time.After(proctest.Bound):
		t.Fatalf("init %d not reaped after it was killed", pid)
	}
	if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
		t.Fatalf("init %d after its reaping: kill 0: %v, want ESRCH (a zombie answers)", pid, err)
	}
	if ini.cmd.ProcessState == nil {
		t.Fatal("Wait did not collect the init's status")
	}
	if n := openFds(t); n != fds {
		t.Fatalf("%d descriptors open after the init was reaped, %d before it started", n, fds)
	}
}

// TestDirectWaitHoldsNoThread: Wait for a Direct mode command waits for
// the shell's end in the runtime's poller, as the reaper of an init does,
// not in a blocking waitid (a thread per command in flight, kept for
// good), and still returns its exit.
func TestDirectWaitHoldsNoThread(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	c := &Cmd{Mode: Direct, Path: "/bin/sh", Args: []string{"sh", "-c", "read x; exit 7"}, Dir: "/", Stdin: r}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	type result struct {
		ex  Exit
		err error
	}
	done := make(chan result, 1)
	go func() {
		ex, err := c.Wait()
		done <- result{ex, err}
	}()
	var st string
	proctest.WaitFor(t, "Wait to wait", func() bool {
		st = goroutineState("sandboxinit.(*Cmd).waitDirect")
		return st == "IO wait" || st == "syscall"
	})
	if want := map[bool]string{true: "IO wait", false: "syscall"}[pollablePidfds(t)]; st != want {
		t.Errorf("Wait for a running Direct command waits in state %q, want %s", st, want)
	}
	w.Close()
	select {
	case res := <-done:
		if res.err != nil || res.ex != (Exit{Code: 7}) {
			t.Fatalf("Wait: %+v %v, want exit 7", res.ex, res.err)
		}
	case <-time.After(proctest.Bound):
		t.Fatal("Wait did not return after the shell ended")
	}
}

// TestDirectWaitAfterFailedStart: Wait after a Start that failed (no
// shell at the path) returns an error, as exec.Cmd's does, instead of
// waiting for a process that was never made.
func TestDirectWaitAfterFailedStart(t *testing.T) {
	c := &Cmd{Path: "/nonexistent/shell-" + strings.Repeat("x", 8)}
	if err := c.Start(); err == nil {
		t.Fatal("Start of a missing shell succeeded")
	}
	if _, err := c.Wait(); err == nil {
		t.Fatal("Wait after a failed Start returned no error")
	}
}
