//go:build linux

package localsandbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// initOutOfFDsMarker, a file in a sandbox's host directory holding a
// number n, has an init started for that sandbox by this test binary
// leave itself n free descriptors before it sets up (maybeLimitInitFDs).
const initOutOfFDsMarker = "test-init-out-of-fds"

// initPipe holds the pipe that makes a starved init's poller: closed
// (a finalizer would close it), it would leave more than n descriptors
// free below the limit.
var initPipe [2]*os.File

// maybeLimitInitFDs, in this test binary started as a sandbox init whose
// sandbox directory holds initOutOfFDsMarker, lowers its own soft and
// hard RLIMIT_NOFILE to the lowest descriptor it has free plus the
// marker's number, so that a descriptor its setup opens fails with EMFILE
// from the kernel. The limit cannot come from the server: an init is a Go
// program, whose runtime raises its soft limit to the hard one as it
// starts, and it holds fewer descriptors than the server that starts it,
// so no limit the server runs under stops the init's setup before it
// stops the server. The poller (an epoll and an eventfd, which the
// runtime cannot do without) is made first, by a pipe, as the init makes
// it for its control socket.
func maybeLimitInitFDs() {
	if len(os.Args) != 4 || os.Args[0] != "nimbus-sandbox-init" {
		return
	}
	b, err := os.ReadFile(initMarker(initOutOfFDsMarker))
	if err != nil {
		return
	}
	n, err := strconv.Atoi(string(b))
	if err != nil {
		os.Exit(71)
	}
	initPipe[0], initPipe[1], err = os.Pipe()
	if err != nil {
		os.Exit(71)
	}
	fd, err := unix.Dup(0)
	if err != nil {
		os.Exit(71)
	}
	unix.Close(fd)
	lim := unix.Rlimit{Cur: uint64(fd + n), Max: uint64(fd + n)}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		os.Exit(71)
	}
}

// initMarker is where an init started by this test binary finds the
// marker file name: in its sandbox directory, or for the init of the
// isolation probe (a scratch sandbox, isolation-probe-*, made in the data
// directory) in the data directory, where a test can put it first.
func initMarker(name string) string {
	if strings.HasPrefix(filepath.Base(os.Args[3]), "isolation-probe-") {
		return filepath.Join(filepath.Dir(os.Args[3]), name)
	}
	return filepath.Join(os.Args[3], name)
}

// TestInitSetupOutOfFDsAnswers503: an init that runs out of descriptors
// while it sets up the sandbox's namespaces, and reports the errno and
// exits, has exec, execStream, startProcess and the terminal answer 503
// E_NIMBUS_DO_OVERLOADED with Retry-After and the errno's words, without
// the sandbox's host path, and leaves no init, zombie or descriptor
// behind in the server; once descriptors are back, the next exec runs in
// namespaces. Two steps of the setup: the open of the sandbox directory
// (the init reports "fail"), and the open of the host's /home for the
// mounts (it reports "setup", which otherwise means the kernel refuses
// namespaces, and the server gives them up for host paths for good: a
// shortage must not). Host-paths isolation has no setup step that takes
// a resource (its init only becomes a subreaper), and Direct has no init.
func TestInitSetupOutOfFDsAnswers503(t *testing.T) {
	dir := t.TempDir()
	s, err := localsandbox.New(localsandbox.Options{DataDir: t.TempDir(), Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	if iso := s.Isolation(); !iso.Namespaces() {
		t.Fatalf("isolation here is %+v: this test needs namespaces", iso)
	}
	_ = s.Close()
	cases := []struct {
		id   string
		free int // descriptors the init has for its setup
	}{
		{"no-sandbox-dir", 0}, // its open of the sandbox directory fails
		// The sandbox directory, its home (then home/user) and tmp: its
		// open of /home fails.
		{"no-host-home", 3},
	}
	sandboxHome(t, dir, "warm")
	for _, c := range cases {
		sandboxHome(t, dir, c.id)
	}
	url, pid := childServerPid(t, dir, nil, nil, os.Stderr)
	// The server as it serves: an idle init for another sandbox, each
	// short one's handle opened by a file operation (it starts no init).
	if st, h, body := rpcWithHeaders(t, url, "warm", "exec", "true"); st != 200 {
		t.Fatalf("exec before the shortage: %d %v %s", st, h, body)
	}
	for _, c := range cases {
		if st, h, body := rpcWithHeaders(t, url, c.id, "writeFile", "/home/user/a.txt", "x"); st != 200 {
			t.Fatalf("writeFile before the shortage: %d %v %s", st, h, body)
		}
	}
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			children, fds := childrenOf(t, pid), fdsOf(t, pid)
			sbDir := filepath.Dir(filepath.Dir(sandboxHome(t, dir, c.id)))
			marker := filepath.Join(sbDir, initOutOfFDsMarker)
			if err := os.WriteFile(marker, []byte(strconv.Itoa(c.free)), 0o644); err != nil {
				t.Fatal(err)
			}
			const want = "the local sandbox backend is out of resources (too many open files); retry shortly"
			check := func(what string, st int, h http.Header, body []byte) {
				t.Helper()
				var f struct{ Error, Code string }
				_ = json.Unmarshal(body, &f)
				if st != 503 || f.Code != "E_NIMBUS_DO_OVERLOADED" || f.Error != want || h.Get("Retry-After") == "" || bytes.Contains(body, []byte(dir)) {
					t.Errorf("%s with the init out of descriptors at its setup: %d Retry-After %q %s, want 503 E_NIMBUS_DO_OVERLOADED %q with Retry-After", what, st, h.Get("Retry-After"), body, want)
				}
			}
			for _, op := range []string{"exec", "execStream", "startProcess"} {
				st, h, body := rpcWithHeaders(t, url, c.id, op, "echo started")
				check(op, st, h, []byte(body))
			}
			req, _ := http.NewRequest(http.MethodGet, url+"/s/"+c.id+"/ws", nil)
			req.Header = http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="},
				"Authorization": {"Bearer " + mint(t, c.id, token.ScopeSessionAttach)}}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			check("terminal", resp.StatusCode, resp.Header, body)
			if got := childrenOf(t, pid); !sameKeys(got, children) {
				t.Errorf("the server's children after the shortage: %v, want %v (each failed init reaped)", got, children)
			}
			if got := fdsOf(t, pid); got != fds {
				t.Errorf("the server holds %d descriptors after the shortage, %d before", got, fds)
			}
			if err := os.Remove(marker); err != nil {
				t.Fatal(err)
			}
			st, h, out := rpcWithHeaders(t, url, c.id, "exec", "echo $HOME")
			var r struct {
				Result struct {
					ExitCode int
					Stdout   string
				}
			}
			if err := json.Unmarshal([]byte(out), &r); err != nil || st != 200 || r.Result.ExitCode != 0 || r.Result.Stdout != "/home/user\n" {
				t.Fatalf("exec after the shortage: %d %v %s, want HOME /home/user (namespaces kept)", st, h, out)
			}
		})
	}
}

// childrenOf returns the state of each child of process ppid by pid ("Z"
// for a zombie).
func childrenOf(t *testing.T, ppid int) map[int]string {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	kids := map[int]string{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(st, ')')
		f := strings.Fields(string(st[i+1:]))
		if len(f) >= 2 && f[1] == strconv.Itoa(ppid) {
			kids[pid] = f[0]
		}
	}
	return kids
}

func sameKeys(a, b map[int]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v == "Z" || w == "Z" {
			return false
		}
	}
	return true
}

// fdsOf counts the descriptors process pid holds, but for its TCP
// connections: the test's HTTP client keeps some alive, and the server
// sees one it closed only later.
func fdsOf(t *testing.T, pid int) int {
	t.Helper()
	p := "/proc/" + strconv.Itoa(pid)
	tcp := map[string]bool{}
	for _, f := range []string{"/net/tcp", "/net/tcp6"} {
		b, _ := os.ReadFile(p + f)
		for _, line := range strings.Split(string(b), "\n")[1:] {
			if f := strings.Fields(line); len(f) > 9 {
				tcp["socket:["+f[9]+"]"] = true
			}
		}
	}
	ents, err := os.ReadDir(p + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, _ := os.Readlink(p + "/fd/" + e.Name()); !tcp[l] {
			n++
		}
	}
	return n
}
