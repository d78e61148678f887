//go:build linux

package localsandbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nimbus-sh/nimbus/pkg/token"
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
//   - "newosproc": clone fails with EAGAIN (denyClone) and goroutines make
//     the Go runtime need threads: it dies saying it could not make one.
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
			denyClone()
			var wg sync.WaitGroup
			for range 64 {
				wg.Add(1)
				go func() {
					runtime.LockOSThread()
					wg.Done()
					select {}
				}()
			}
			wg.Wait()
			os.Exit(72) // the runtime made every thread: no shortage
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
	for _, iso := range []struct {
		name string
		env  []string
	}{{"namespaces", nil}, {"host-paths", []string{childHostPathsEnv + "=1"}}} {
		t.Run(iso.name, func(t *testing.T) { testInitDeathAsItStartsACommand(t, iso.env) })
	}
}

func testInitDeathAsItStartsACommand(t *testing.T, env []string) {
	dir := t.TempDir()
	overloaded := func(what string) func(int, http.Header, string) bool {
		return overloadedAnswer("the local sandbox backend is out of resources (" + what + "): the sandbox's init died as it started the command, which may have run; check before running it again")
	}
	crashed := crashedAnswer("sandboxinit: the init ended as it started the command (exit status 2), which may have run")
	cases := []struct {
		id string
		ok func(int, http.Header, string) bool
	}{
		{"panic", crashed},
		{"newosproc", overloaded("resource temporarily unavailable")},
		{"kill", overloaded("cannot allocate memory")},
	}
	for _, c := range cases {
		sandboxHome(t, dir, c.id)
	}
	url, pid := childServerPid(t, dir, env, nil, os.Stderr)
	for _, c := range cases {
		if st, h, body := rpcWithHeaders(t, url, c.id, "writeFile", "/home/user/a.txt", "x"); st != 200 {
			t.Fatalf("writeFile: %d %v %s", st, h, body)
		}
	}
	sbDir := func(id string) string { return filepath.Dir(filepath.Dir(sandboxHome(t, dir, id))) }
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			children := childrenOf(t, pid)
			fds := -1 // counted after the first call: the server opens some descriptors for good on its first start
			if err := os.WriteFile(filepath.Join(sbDir(c.id), initDiesAtRunMarker), []byte(c.id), 0o644); err != nil {
				t.Fatal(err)
			}
			fifo := filepath.Join(sbDir(c.id), initDiesAtRunMarker+".fifo")
			if c.id == "kill" {
				if err := unix.Mkfifo(fifo, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			// call makes a request, SIGKILLing the init it starts once it
			// waits at the FIFO.
			call := func(do func()) {
				done := make(chan struct{})
				go func() {
					defer close(done)
					if c.id == "kill" {
						killAtFIFO(t, fifo, dir)
					}
				}()
				do()
				<-done
			}
			check := func(what string, st int, h http.Header, body string) {
				t.Helper()
				if !c.ok(st, h, body) || strings.Contains(body, dir) {
					t.Errorf("%s with an init that died as it started the command: %d Retry-After %q %s", what, st, h.Get("Retry-After"), body)
				}
			}
			for _, op := range []string{"exec", "execStream", "startProcess"} {
				var st int
				var h http.Header
				var body string
				call(func() { st, h, body = rpcWithHeaders(t, url, c.id, op, "echo started") })
				check(op, st, h, body)
				if fds < 0 {
					fds = fdsOf(t, pid)
				}
			}
			req, _ := http.NewRequest(http.MethodGet, url+"/s/"+c.id+"/ws", nil)
			req.Header = http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="},
				"Authorization": {"Bearer " + mint(t, c.id, token.ScopeSessionAttach)}}
			var resp *http.Response
			var err error
			call(func() { resp, err = http.DefaultClient.Do(req) })
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			check("terminal", resp.StatusCode, resp.Header, string(body))
			if got := childrenOf(t, pid); !sameKeys(got, children) {
				t.Errorf("the server's children after the init died: %v, want %v (each dead init reaped)", got, children)
			}
			if got := fdsOf(t, pid); got != fds {
				t.Errorf("the server holds %d descriptors after the init died, %d before", got, fds)
			}
			_ = os.Remove(fifo)
			if err := os.Remove(filepath.Join(sbDir(c.id), initDiesAtRunMarker)); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, c := range cases {
		st, h, out := rpcWithHeaders(t, url, c.id, "exec", "echo ok")
		var r struct {
			Result struct {
				ExitCode int
				Stdout   string
			}
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil || st != 200 || r.Result.ExitCode != 0 || r.Result.Stdout != "ok\n" {
			t.Errorf("exec in %s after its init died: %d %v %s", c.id, st, h, out)
		}
	}
}
