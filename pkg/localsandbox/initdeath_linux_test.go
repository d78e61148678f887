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
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/nimbus-sh/nimbus/pkg/token"
)

// initDiesMarker, a file in a sandbox's host directory, has an init
// started for that sandbox by this test binary die before it sets up, the
// way its content names (maybeKillInit).
const initDiesMarker = "test-init-dies"

// maybeKillInit, in this test binary started as a sandbox init whose
// sandbox directory holds initDiesMarker, ends the init before it reports
// anything, as a host short of processes or memory, or a bug, ends one:
//
//   - "newosproc": clone fails with EAGAIN (a seccomp filter stands in
//     for RLIMIT_NPROC or a cgroup's pids limit, which do not hold root
//     back) and the goroutines below make the Go runtime need threads: it
//     prints "runtime: failed to create new OS thread" and "fatal error:
//     newosproc" and exits 2 itself (with cgo, "runtime/cgo:
//     pthread_create failed: Resource temporarily unavailable" and
//     SIGABRT).
//   - "hold": it opens the FIFO initDiesMarker+".fifo" for writing and
//     waits there, for the test to kill it with SIGKILL as the kernel's
//     out-of-memory killer does.
//   - "panic": it panics with the sandbox's host path (exit 2).
func maybeKillInit() {
	if len(os.Args) != 4 || os.Args[0] != "nimbus-sandbox-init" {
		return
	}
	b, err := os.ReadFile(initMarker(initDiesMarker))
	if err != nil {
		return
	}
	switch string(b) {
	case "newosproc":
		exhaustThreads()
	case "hold":
		if _, err := os.OpenFile(initMarker(initDiesMarker+".fifo"), os.O_WRONLY, 0); err != nil {
			os.Exit(71)
		}
		for {
			_ = unix.Pause()
		}
	case "panic":
		panic("cannot set up " + os.Args[3])
	}
	os.Exit(71)
}

// exhaustThreads denies this process new threads (denyClone) and has
// goroutines make the Go runtime need them: it dies saying it could not
// make one ("fatal error: newosproc", exit 2). Should the runtime make
// them all, there was no shortage: exit 72.
func exhaustThreads() {
	denyClone()
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			// Each holds a thread: the next goroutine needs another.
			runtime.LockOSThread()
			wg.Done()
			select {}
		}()
	}
	wg.Wait()
	os.Exit(72) // the runtime made every thread: no shortage
}

// denyClone has every clone of this process's threads fail with EAGAIN,
// as fork and thread creation do for a user at RLIMIT_NPROC: clone, which
// the Go runtime calls for a thread, and clone3, which the C library's
// pthread_create calls for it in a program built with cgo (a test binary
// often is; the release binary is not).
func denyClone() {
	prog := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.SYS_CLONE, Jt: 1, Jf: 0},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.SYS_CLONE3, Jt: 0, Jf: 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EAGAIN)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		os.Exit(71)
	}
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog))); e != 0 {
		os.Exit(71)
	}
}

// overloadedAnswer matches 503 E_NIMBUS_DO_OVERLOADED with message want
// and a Retry-After header.
func overloadedAnswer(want string) func(int, http.Header, string) bool {
	return func(st int, h http.Header, body string) bool {
		var f struct{ Error, Code string }
		_ = json.Unmarshal([]byte(body), &f)
		return st == 503 && f.Code == "E_NIMBUS_DO_OVERLOADED" && f.Error == want && h.Get("Retry-After") != ""
	}
}

// crashedAnswer matches 500 E_NIMBUS_REMOTE_RPC whose message ends with
// suffix, without Retry-After; the terminal's answer is text, the API's
// JSON.
func crashedAnswer(suffix string) func(int, http.Header, string) bool {
	return func(st int, h http.Header, body string) bool {
		var f struct{ Error, Code string }
		if json.Unmarshal([]byte(body), &f) != nil {
			f.Error, f.Code = strings.TrimSpace(body), "E_NIMBUS_REMOTE_RPC"
		}
		return st == 500 && f.Code == "E_NIMBUS_REMOTE_RPC" && strings.HasSuffix(f.Error, suffix) && h.Get("Retry-After") == ""
	}
}

// TestInitDeathBeforeSetup: an init that dies before it reports anything
// (the server reads only the end of its control socket) has exec,
// execStream, startProcess and the terminal answer 503
// E_NIMBUS_DO_OVERLOADED with Retry-After when it died for want of
// processes (the Go runtime could not make a thread) or memory (SIGKILL,
// as from the out-of-memory killer), and 500 E_NIMBUS_REMOTE_RPC naming
// its exit status, without the host path its stderr held, when it
// crashed; no init, zombie or descriptor is left in the server, and
// commands run again once the init can set up. In both isolation modes
// that start an init.
func TestInitDeathBeforeSetup(t *testing.T) {
	overloaded := func(what string) func(int, http.Header, string) bool {
		return overloadedAnswer("the local sandbox backend is out of resources (" + what + "); retry shortly")
	}
	testInitDeath(t, initDiesMarker, "before setting up", []initDeathCase{
		{"panic", crashedAnswer("sandboxinit: the init ended before setting up (exit status 2)"), false},
		{"newosproc", overloaded("resource temporarily unavailable"), false},
		{"hold", overloaded("cannot allocate memory"), true},
	})
}

// initDeathCase is one way testInitDeath has an init die: id is what its
// marker file holds, ok matches the answers, and kill has the test
// SIGKILL the init once it waits at the marker's FIFO.
type initDeathCase struct {
	id   string
	ok   func(int, http.Header, string) bool
	kill bool
}

// testInitDeath runs, in both isolation modes that start an init, a
// server with a sandbox a case, and for each case has the sandbox's init
// die as marker and the case say (when says the moment, for failures):
// exec, execStream, startProcess and the terminal must answer as the case
// says without the host path, and leave no init, zombie or descriptor in
// the server; once the marker is gone, commands run again.
func testInitDeath(t *testing.T, marker, when string, cases []initDeathCase) {
	for _, iso := range []struct {
		name string
		env  []string
	}{{"namespaces", nil}, {"host-paths", []string{childHostPathsEnv + "=1"}}} {
		t.Run(iso.name, func(t *testing.T) { testInitDeathIn(t, iso.env, marker, when, cases) })
	}
}

func testInitDeathIn(t *testing.T, env []string, marker, when string, cases []initDeathCase) {
	dir := t.TempDir()
	for _, c := range cases {
		sandboxHome(t, dir, c.id)
	}
	url, pid := childServerPid(t, dir, env, nil, os.Stderr)
	// Each sandbox's handle, opened by a file operation (it starts no
	// init).
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
			if err := os.WriteFile(filepath.Join(sbDir(c.id), marker), []byte(c.id), 0o644); err != nil {
				t.Fatal(err)
			}
			fifo := filepath.Join(sbDir(c.id), marker+".fifo")
			if c.kill {
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
					if c.kill {
						killAtFIFO(t, fifo, dir)
					}
				}()
				do()
				<-done
			}
			check := func(what string, st int, h http.Header, body string) {
				t.Helper()
				if !c.ok(st, h, body) || strings.Contains(body, dir) {
					t.Errorf("%s with an init that died %s: %d Retry-After %q %s", what, when, st, h.Get("Retry-After"), body)
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
			if err := os.Remove(filepath.Join(sbDir(c.id), marker)); err != nil {
				t.Fatal(err)
			}
		})
	}
	// Once inits can set up, commands run (in host-paths isolation the
	// first one's init serves the others: it runs last).
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
