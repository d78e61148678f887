//go:build linux

package localsandbox_test

import (
	"net/http"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// initDiesAtRunMarker, a file in a sandbox's host directory, has an init
// started for that sandbox by this test binary set up, then die as the
// server hands it a command, the way its content names
// (maybeKillInitAtRun).
const initDiesAtRunMarker = "test-init-dies-at-run"

// maybeKillInitAtRun, in this test binary started as a sandbox init whose
// sandbox directory holds initDiesAtRunMarker, stands between the init
// and its control socket: the init's messages go through to the server,
// and the first bytes from the server (the run frame of a command) are
// not passed on: the init dies there instead, as a host short of threads
// or memory, or a bug, can end it between taking a command and saying
// whether it started it. Its standard error is the server's socket, as
// the init's own is once set up:
//
//   - "kill": it opens the FIFO initDiesAtRunMarker+".fifo" for writing
//     and waits there, for the test to SIGKILL it as the out-of-memory
//     killer does (in namespaces it is PID 1 there: its own SIGKILL would
//     not reach it).
//   - "newosproc": it cannot make threads (exhaustThreads): it dies saying
//     so.
//   - "panic": it panics with the sandbox's host path.
func maybeKillInitAtRun() {
	if len(os.Args) != 4 || os.Args[0] != "nimbus-sandbox-init" {
		return
	}
	b, err := os.ReadFile(initMarker(initDiesAtRunMarker))
	if err != nil {
		return
	}
	how := string(b)
	// The FIFO is reached through the sandbox's directory, held before
	// the mounts (in namespaces) hide its host path.
	sbDir, err := unix.Open(os.Args[3], unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		os.Exit(71)
	}
	server, err := unix.Dup(3)
	if err != nil {
		os.Exit(71)
	}
	unix.CloseOnExec(server)
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		os.Exit(71)
	}
	if err := unix.Dup3(pair[0], 3, 0); err != nil {
		os.Exit(71)
	}
	unix.Close(pair[0])
	go func() {
		// The init's messages ("init") go to the server.
		buf := make([]byte, 512)
		for {
			n, err := unix.Read(pair[1], buf)
			if n <= 0 || err != nil {
				return
			}
			if _, err := unix.Write(server, buf[:n]); err != nil {
				return
			}
		}
	}()
	go func() {
		var p [1]byte
		if n, err := unix.Read(server, p[:]); n <= 0 || err != nil {
			os.Exit(0) // the server went away
		}
		if err := unix.Dup3(server, 2, 0); err != nil {
			os.Exit(71)
		}
		switch how {
		case "kill":
			if _, err := unix.Openat(sbDir, initDiesAtRunMarker+".fifo", unix.O_WRONLY|unix.O_CLOEXEC, 0); err != nil {
				os.Exit(71)
			}
			select {}
		case "newosproc":
			exhaustThreads()
		case "panic":
			panic("cannot start a command in " + os.Args[3])
		}
		os.Exit(71)
	}()
}

// TestInitDeathAsItStartsACommand: an init that dies after the server
// handed it a command and before it said whether the command started
// has exec, execStream, startProcess and the terminal answer 503
// E_NIMBUS_DO_OVERLOADED with Retry-After when it died for want of
// memory (SIGKILL, as from the out-of-memory killer) or threads (its Go
// runtime could not make one), and 500 E_NIMBUS_REMOTE_RPC naming its
// exit status without the host path of its last words when it crashed;
// either way the answer says the command may have run (never "retry
// shortly" alone: the command is not started again on another init), no
// init, zombie or descriptor is left in the server, and commands run
// again once inits live. On the old code all answered 500 "the init ended
// before starting the command". In both isolation modes that start an
// init.
func TestInitDeathAsItStartsACommand(t *testing.T) {
	overloaded := func(what string) func(int, http.Header, string) bool {
		return overloadedAnswer("the local sandbox backend is out of resources (" + what + "): the sandbox's init died as it started the command, which may have run; check before running it again")
	}
	testInitDeath(t, initDiesAtRunMarker, "as it started the command", []initDeathCase{
		{"panic", crashedAnswer("sandboxinit: the init ended as it started the command (exit status 2), which may have run"), false},
		{"newosproc", overloaded("resource temporarily unavailable"), false},
		{"kill", overloaded("cannot allocate memory"), true},
	})
}
