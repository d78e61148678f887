//go:build linux

package localsandbox_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nimbus-sh/nimbus/pkg/token"
)

// TestInitOutOfProcessesAnswers503: when the sandbox's init cannot fork the
// command's shell because the host is out of processes (EAGAIN from its
// RLIMIT_NPROC), exec, execStream, startProcess and the terminal answer
// 503 E_NIMBUS_DO_OVERLOADED with Retry-After and the errno's words only,
// as a start that fails in the server itself does; once the pressure goes,
// the next exec runs. The init reported the failure as text, which the
// errno check did not see: they answered 500 "exec failed: fork/exec
// /bin/sh: resource temporarily unavailable" (the terminal "Init failed:
// ..."). The backend runs as nobody, whose processes the limit stops (not
// root's); only the init's limit is lowered, with prlimit, so the server
// itself keeps starting threads.
func TestInitOutOfProcessesAnswers503(t *testing.T) {
	for name, env := range map[string][]string{"namespaces": nil, "host-paths": {childHostPathsEnv + "=1"}} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			const id = "noproc"
			sandboxHome(t, dir, id)
			openToAll(t, dir)
			attr := asNobody(t, dir)
			url, pid := childServerPid(t, dir, env, attr, os.Stderr)
			// The init that ran this one idles in the pool and takes the
			// next command of the sandbox.
			if st, h, body := rpcWithHeaders(t, url, id, "exec", "true"); st != 200 {
				t.Fatalf("exec before the pressure: %d %v %s", st, h, body)
			}
			inits := initsOf(t, pid)
			if len(inits) != 1 {
				t.Fatalf("the server's inits: %v, want one", inits)
			}
			ini := inits[0]
			old := setNproc(t, attr, ini, 1)
			const want = "the local sandbox backend is out of resources (resource temporarily unavailable); retry shortly"
			for _, op := range []string{"exec", "execStream", "startProcess"} {
				st, h, body := rpcWithHeaders(t, url, id, op, "echo started")
				var f struct {
					Error, Code string
				}
				_ = json.Unmarshal([]byte(body), &f)
				if st != 503 || f.Code != "E_NIMBUS_DO_OVERLOADED" || f.Error != want || h.Get("Retry-After") == "" || strings.Contains(body, dir) {
					t.Errorf("%s with the init out of processes: %d Retry-After %q %s, want 503 E_NIMBUS_DO_OVERLOADED %q with Retry-After", op, st, h.Get("Retry-After"), body, want)
				}
			}
			req, _ := http.NewRequest(http.MethodGet, url+"/s/"+id+"/ws", nil)
			req.Header = http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="},
				"Authorization": {"Bearer " + mint(t, id, token.ScopeSessionAttach)}}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var f struct{ Error, Code string }
			_ = json.Unmarshal(body, &f)
			if resp.StatusCode != 503 || f.Code != "E_NIMBUS_DO_OVERLOADED" || f.Error != want || resp.Header.Get("Retry-After") == "" || bytes.Contains(body, []byte(dir)) {
				t.Errorf("terminal with the init out of processes: %d Retry-After %q %s, want 503 E_NIMBUS_DO_OVERLOADED %q with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), body, want)
			}
			if got := initsOf(t, pid); len(got) != 1 || got[0] != ini {
				t.Fatalf("the server's inits under pressure: %v, want the same one %d", got, ini)
			}
			setNproc(t, attr, ini, old)
			st, h, out := rpcWithHeaders(t, url, id, "exec", "echo again")
			var r struct {
				Result struct {
					ExitCode int
					Stdout   string
				}
			}
			if err := json.Unmarshal([]byte(out), &r); err != nil || st != 200 || r.Result.ExitCode != 0 || r.Result.Stdout != "again\n" {
				t.Fatalf("exec after the pressure: %d %v %s", st, h, out)
			}
		})
	}
}

// childPrlimitEnv "pid:n" has a child test binary set the soft
// RLIMIT_NPROC of process pid to n, write the one it had, then exit
// (maybePrlimitChild).
const childPrlimitEnv = "NIMBUS_TEST_CHILD_PRLIMIT"

// setNproc sets the soft RLIMIT_NPROC of process pid to n, and returns
// the one it had, from a child
// that runs with attr: the init runs as nobody when the test runs as
// root, and root without CAP_SYS_RESOURCE (a container's) may not change
// another user's limits, but the user itself may.
func setNproc(t *testing.T, attr *syscall.SysProcAttr, pid int, n uint64) uint64 {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if attr != nil && attr.Credential != nil {
		exe = copyExecutable(t, exe)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childPrlimitEnv+"="+strconv.Itoa(pid)+":"+strconv.FormatUint(n, 10))
	cmd.SysProcAttr = attr
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("prlimit of %d to %d: %v", pid, n, err)
	}
	old, err := strconv.ParseUint(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatalf("prlimit of %d to %d: %q", pid, n, out)
	}
	return old
}

// maybePrlimitChild, in a child started by setNproc, sets the limit and
// exits.
func maybePrlimitChild() {
	v := os.Getenv(childPrlimitEnv)
	if v == "" {
		return
	}
	p, n, _ := strings.Cut(v, ":")
	pid, err1 := strconv.Atoi(p)
	cur, err2 := strconv.ParseUint(n, 10, 64)
	var lim unix.Rlimit
	err := errors.Join(err1, err2)
	if err == nil {
		err = unix.Prlimit(pid, unix.RLIMIT_NPROC, nil, &lim)
	}
	old := lim.Cur
	if err == nil {
		lim.Cur = cur
		err = unix.Prlimit(pid, unix.RLIMIT_NPROC, &lim, nil)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(old)
	os.Exit(0)
}

// rpcWithHeaders posts one op to the remote API and returns the status, the
// headers and the body.
func rpcWithHeaders(t *testing.T, base, id, op string, args ...any) (int, http.Header, string) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"profile": "default", "root": "/home/user", "op": op, "args": args})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/nimbus/v1/sandboxes/"+id+"/rpc", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+mint(t, id, token.ScopeSandboxUse))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

// initsOf returns the host pids of the sandbox inits process ppid started.
func initsOf(t *testing.T, ppid int) []int {
	t.Helper()
	var pids []int
	for pid := range childrenOf(t, ppid) {
		cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if bytes.HasPrefix(cmdline, []byte("nimbus-sandbox-init\x00")) {
			pids = append(pids, pid)
		}
	}
	return pids
}
