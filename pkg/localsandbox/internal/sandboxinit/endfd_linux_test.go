package sandboxinit

import (
	"errors"
	"os"
	"syscall"
	"testing"
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
