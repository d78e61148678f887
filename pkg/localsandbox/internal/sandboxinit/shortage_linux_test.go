package sandboxinit

import (
	"syscall"
	"testing"
)

// TestShortageOf reads the ends of inits the way the Go runtime and the
// kernel leave them. The end-to-end test (localsandbox's
// TestInitDeathBeforeSetup) runs as a test binary built with cgo, whose
// threads come from pthread_create: the release binary's pure-Go runtime
// says it differently, and only here.
func TestShortageOf(t *testing.T) {
	exit := func(code int) syscall.WaitStatus { return syscall.WaitStatus(code << 8) }
	sig := func(s syscall.Signal) syscall.WaitStatus { return syscall.WaitStatus(s) }
	for _, c := range []struct {
		name   string
		ws     syscall.WaitStatus
		stderr string
		want   syscall.Errno
	}{
		{"no thread (RLIMIT_NPROC)", exit(2), "runtime: failed to create new OS thread (have 5 already; errno=11)\nruntime: may need to increase max user processes (ulimit -u)\nfatal error: newosproc\n", syscall.EAGAIN},
		{"no thread (memory)", exit(2), "runtime: failed to create new OS thread (have 5 already; errno=12)\nfatal error: newosproc\n", syscall.ENOMEM},
		{"no thread (cgo)", sig(syscall.SIGABRT), "runtime/cgo: pthread_create failed: Resource temporarily unavailable\nSIGABRT: abort\n", syscall.EAGAIN},
		{"no heap", exit(2), "runtime: out of memory: cannot allocate 4194304-byte block (3997696 in use)\nfatal error: out of memory\n", syscall.ENOMEM},
		{"out-of-memory killer", sig(syscall.SIGKILL), "", syscall.ENOMEM},
		{"panic on EMFILE", exit(2), "panic: open /x: too many open files\n", syscall.EMFILE},
		{"a bug", exit(2), "panic: runtime error: index out of range [3] with length 3\n", 0},
		{"a crash", sig(syscall.SIGSEGV), "", 0},
		{"a clean exit", exit(0), "", 0},
	} {
		if got := shortageOf(c.ws, []byte(c.stderr)); got != c.want {
			t.Errorf("%s: shortageOf = %v, want %v", c.name, got, c.want)
		}
	}
}
