//go:build linux

package localsandbox_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// The environment of a child test binary that serves a backend (see
// maybeServeChild): its data directory, and a directory it mounts read-only
// first (in its own mount namespace).
const (
	childServeEnv = "NIMBUS_TEST_CHILD_SERVE"
	childROEnv    = "NIMBUS_TEST_CHILD_READONLY"
	// childHostPathsEnv set to 1 runs the child's commands in host-paths
	// isolation; its log (Options.Logf) goes to its stderr either way.
	childHostPathsEnv = "NIMBUS_TEST_CHILD_HOSTPATHS"
	// childFreeFDsEnv set to n leaves the child only n descriptors free
	// once it serves (the others hold /dev/null): what the host's
	// descriptor limit does to a busy server.
	childFreeFDsEnv = "NIMBUS_TEST_CHILD_FREE_FDS"
	// childBindEnv "src:dst" bind-mounts file src on file dst first (in
	// the child's own mount namespace).
	childBindEnv = "NIMBUS_TEST_CHILD_BIND"
	// childIsolationEnv set to 1 has the child report its isolation
	// first, as nimbus dev does (which sets namespaces up once to see).
	childIsolationEnv = "NIMBUS_TEST_CHILD_ISOLATION"
)

// maybeServeChild, in a child started by childServer, serves a backend on
// the data directory its environment names (after mounting a directory
// read-only when asked), writes its URL on a line to stdout, and serves
// until its standard input closes.
func maybeServeChild() {
	maybePrlimitChild()
	dir := os.Getenv(childServeEnv)
	if dir == "" {
		return
	}
	if ro := os.Getenv(childROEnv); ro != "" {
		if err := syscall.Mount(ro, ro, "", syscall.MS_BIND, ""); err != nil {
			panic(err)
		}
		// In a user namespace the mount's own flags are locked: a remount
		// must keep them.
		var st syscall.Statfs_t
		if err := syscall.Statfs(ro, &st); err != nil {
			panic(err)
		}
		keep := uintptr(st.Flags) & (syscall.MS_NOSUID | syscall.MS_NODEV | syscall.MS_NOEXEC | syscall.MS_NOATIME | syscall.MS_NODIRATIME)
		if st.Flags&4096 != 0 { // ST_RELATIME
			keep |= syscall.MS_RELATIME
		}
		if err := syscall.Mount("", ro, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY|keep, ""); err != nil {
			panic(err)
		}
	}
	if src, dst, ok := strings.Cut(os.Getenv(childBindEnv), ":"); ok {
		if err := syscall.Mount(src, dst, "", syscall.MS_BIND, ""); err != nil {
			panic(err)
		}
	}
	o := localsandbox.Options{DataDir: dir, Secret: secret, HostEnv: []string{"PATH=" + os.Getenv("PATH")},
		Logf: func(format string, args ...any) { fmt.Fprintf(os.Stderr, "log: "+format+"\n", args...) }}
	if os.Getenv(childHostPathsEnv) == "1" {
		o.Isolation = localsandbox.IsolationHostPaths
	}
	s, err := localsandbox.New(o)
	if err != nil {
		panic(err)
	}
	if os.Getenv(childIsolationEnv) == "1" {
		fmt.Fprintf(os.Stderr, "log: isolation %+v\n", s.Isolation())
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	if n, err := strconv.Atoi(os.Getenv(childFreeFDsEnv)); err == nil {
		// Raw descriptors: an *os.File's finalizer would free them.
		var held []int
		for {
			fd, err := syscall.Open(os.DevNull, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
			if err != nil {
				break
			}
			held = append(held, fd)
		}
		for _, fd := range held[len(held)-n:] {
			syscall.Close(fd)
		}
	}
	go func() { _ = http.Serve(l, s) }()
	os.Stdout.WriteString("http://" + l.Addr().String() + "\n")
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = s.Close()
	os.Exit(0)
}

// childServer starts this test binary as a backend on dir in a child
// process configured by attr, and returns its URL; the child ends with the
// test.
func childServer(t *testing.T, dir, readOnly string, attr *syscall.SysProcAttr) string {
	t.Helper()
	return childServerWith(t, dir, []string{childROEnv + "=" + readOnly}, attr, os.Stderr)
}

// childServerWith is childServer with more environment for the child and
// its stderr (its log) going to stderr.
func childServerWith(t *testing.T, dir string, env []string, attr *syscall.SysProcAttr, stderr *os.File) string {
	t.Helper()
	url, _ := childServerPid(t, dir, env, attr, stderr)
	return url
}

// childServerPid is childServerWith that also returns the child's pid.
func childServerPid(t *testing.T, dir string, env []string, attr *syscall.SysProcAttr, stderr *os.File) (string, int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if attr != nil && attr.Credential != nil {
		// The go tool builds the test binary where only its user can
		// reach it: a copy where anyone can.
		exe = copyExecutable(t, exe)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childServeEnv+"="+dir), env...)
	cmd.SysProcAttr = attr
	cmd.Stderr = stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = in.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("the child backend did not start: %v", err)
	}
	return strings.TrimSpace(line), cmd.Process.Pid
}

// copyExecutable copies the executable exe into a new directory that
// every user can reach.
func copyExecutable(t *testing.T, exe string) string {
	t.Helper()
	d := t.TempDir()
	openToAll(t, d)
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(d, filepath.Base(exe))
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// openToAll lets every user reach directory d: it and its parents up to
// the temporary directory become 0755 (t.TempDir makes them 0700).
func openToAll(t *testing.T, d string) {
	t.Helper()
	for p := d; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// sandboxHome makes the home directory of sandbox id (tenant acme, subject
// alice) under data directory dir, as the backend lays it out.
func sandboxHome(t *testing.T, dir, id string) string {
	t.Helper()
	s, err := localsandbox.New(localsandbox.Options{DataDir: dir, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(s.SandboxDir("acme:alice:"+id), "home", "user")
	_ = s.Close()
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	return home
}

// TestReadOnlyMountAnswersEROFS: file operations on a directory the host
// mounts read-only (in the backend's own mount namespace: a user namespace
// too when the test does not run as root) answer EROFS, the errno the
// Worker's VFS throws for a read-only file system, in the session's shape
// with sandbox paths only; a destroy that cannot remove them says so by
// the errno alone.
func TestReadOnlyMountAnswersEROFS(t *testing.T) {
	dir := t.TempDir()
	id := "ro"
	home := sandboxHome(t, dir, id)
	if err := os.WriteFile(filepath.Join(home, "a.txt"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(home, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	attr := &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	if os.Getuid() != 0 {
		attr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		}
	}
	url := childServer(t, dir, home, attr)
	for _, c := range []struct {
		args []any
		want string
	}{
		{[]any{"writeFile", "/home/user/a.txt", "b"}, "EROFS: read-only file system, open '/home/user/a.txt'"},
		{[]any{"writeFile", "/home/user/new.txt", "b"}, "EROFS: read-only file system, open '/home/user/new.txt'"},
		{[]any{"mkdir", "/home/user/e"}, "EROFS: read-only file system, mkdir '/home/user/e'"},
		{[]any{"rename", "/home/user/a.txt", "/home/user/b.txt"}, "EROFS: read-only file system, rename '/home/user/a.txt'"},
		{[]any{"chmod", "/home/user/a.txt", 0o600}, "EROFS: read-only file system, chmod '/home/user/a.txt'"},
		{[]any{"deleteFile", "/home/user/a.txt"}, "EROFS: read-only file system, unlink '/home/user/a.txt'"},
		{[]any{"deleteFile", "/home/user/d", map[string]any{"recursive": true}}, "EROFS: read-only file system, rmdir '/home/user/d'"},
	} {
		st, code, msg := rpcErr(t, url, id, c.args[0].(string), c.args[1:]...)
		if st != 500 || code != "E_NIMBUS_REMOTE_RPC" || msg != c.want {
			t.Errorf("%v: %d %s %q, want 500 E_NIMBUS_REMOTE_RPC %q", c.args, st, code, msg, c.want)
		}
	}
	// Reads still work.
	if st, body := rawRPC(t, url, id, "readFile", "/home/user/a.txt"); st != 200 || body != `{"ok":true,"result":"a"}` {
		t.Errorf("readFile on the read-only mount: %d %s", st, body)
	}
	// A destroy cannot remove the sandbox's files: the answer names the
	// errno, not the host path of the data directory.
	st, code, msg := rpcErr(t, url, id, "destroy")
	if want := "EBUSY: cannot remove sandbox storage: EROFS: read-only file system"; st != 500 || code != "E_NIMBUS_REMOTE_RPC" || msg != want {
		t.Errorf("destroy on the read-only mount: %d %s %q, want 500 E_NIMBUS_REMOTE_RPC %q", st, code, msg, want)
	}
}

// TestDeniedFileOpsAnswerEACCES: file operations the host denies to the
// server's user (a file it may not read, a directory it may not write)
// answer EACCES in the session's shape with sandbox paths only. As root,
// which permission bits do not stop, the backend runs as nobody.
func TestDeniedFileOpsAnswerEACCES(t *testing.T) {
	dir := t.TempDir()
	id := "denied"
	home := sandboxHome(t, dir, id)
	openToAll(t, dir)
	for _, f := range []string{"secret.txt", "locked/f.txt"} {
		p := filepath.Join(home, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("s"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(home, "closed"), 0o755); err != nil {
		t.Fatal(err)
	}
	attr := asNobody(t, dir)
	for p, mode := range map[string]os.FileMode{"secret.txt": 0, "locked": 0o555, "closed": 0} {
		if err := os.Chmod(filepath.Join(home, p), mode); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_ = os.Chmod(filepath.Join(home, "locked"), 0o755)
		_ = os.Chmod(filepath.Join(home, "closed"), 0o755)
	})
	url := childServer(t, dir, "", attr)
	for _, c := range []struct {
		args []any
		want string
	}{
		{[]any{"readFile", "/home/user/secret.txt"}, "EACCES: permission denied, open '/home/user/secret.txt'"},
		{[]any{"readFileBytes", "/home/user/secret.txt"}, "EACCES: permission denied, open '/home/user/secret.txt'"},
		{[]any{"readRange", "/home/user/secret.txt", 0, 1}, "EACCES: permission denied, open '/home/user/secret.txt'"},
		{[]any{"writeFile", "/home/user/secret.txt", "b"}, "EACCES: permission denied, open '/home/user/secret.txt'"},
		{[]any{"writeFile", "/home/user/locked/new.txt", "b"}, "EACCES: permission denied, open '/home/user/locked/new.txt'"},
		{[]any{"writeFile", "/home/user/locked/f.txt", "b"}, "EACCES: permission denied, open '/home/user/locked/f.txt'"},
		{[]any{"mkdir", "/home/user/locked/e"}, "EACCES: permission denied, mkdir '/home/user/locked/e'"},
		{[]any{"rename", "/home/user/locked/f.txt", "/home/user/g.txt"}, "EACCES: permission denied, rename '/home/user/locked/f.txt'"},
		{[]any{"deleteFile", "/home/user/locked/f.txt"}, "EACCES: permission denied, unlink '/home/user/locked/f.txt'"},
		{[]any{"readdir", "/home/user/closed"}, "EACCES: permission denied, scandir '/home/user/closed'"},
		{[]any{"stat", "/home/user/closed/x"}, "EACCES: permission denied, stat '/home/user/closed/x'"},
	} {
		st, code, msg := rpcErr(t, url, id, c.args[0].(string), c.args[1:]...)
		if st != 500 || code != "E_NIMBUS_REMOTE_RPC" || msg != c.want {
			t.Errorf("%v: %d %s %q, want 500 E_NIMBUS_REMOTE_RPC %q", c.args, st, code, msg, c.want)
		}
	}
}

// TestStartFailuresNameNoHostPath: a command that cannot start (its
// working directory is one the server's user may not enter) answers with
// the sandbox path and the errno's words, not the host path of the
// sandbox's directory that the failure names in host-paths isolation; the
// full text goes to the server's log (Options.Logf). As root, which
// permission bits do not stop, the backend runs as nobody.
func TestStartFailuresNameNoHostPath(t *testing.T) {
	dir := t.TempDir()
	id := "nostart"
	home := sandboxHome(t, dir, id)
	// The terminal's shell starts in /home/user.
	termHome := sandboxHome(t, dir, "noterm")
	openToAll(t, dir)
	if err := os.Mkdir(filepath.Join(home, "closed"), 0o755); err != nil {
		t.Fatal(err)
	}
	attr := asNobody(t, dir)
	for _, d := range []string{filepath.Join(home, "closed"), termHome} {
		if err := os.Chmod(d, 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(d, 0o755) })
	}
	logFile, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	url := childServerWith(t, dir, []string{childHostPathsEnv + "=1"}, attr, logFile)
	cwd := map[string]any{"cwd": "/home/user/closed"}
	for _, c := range []struct {
		op   string
		want string
	}{
		{"exec", "exec failed: chdir /home/user/closed: permission denied"},
		{"execStream", "exec failed: chdir /home/user/closed: permission denied"},
		{"startProcess", "cannot start process: chdir /home/user/closed: permission denied"},
	} {
		st, code, msg := rpcErr(t, url, id, c.op, "true", cwd)
		if st != 500 || code != "E_NIMBUS_REMOTE_RPC" || msg != c.want {
			t.Errorf("%s in a closed directory: %d %s %q, want 500 E_NIMBUS_REMOTE_RPC %q", c.op, st, code, msg, c.want)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, url+"/s/noterm/ws", nil)
	req.Header = http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="},
		"Authorization": {"Bearer " + mint(t, "noterm", token.ScopeSessionAttach)}}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "Init failed: chdir /home/user: permission denied"; resp.StatusCode != 500 || string(body) != want {
		t.Errorf("terminal in a closed home: %d %q, want 500 %q", resp.StatusCode, body, want)
	}
	// The server's log has the host path the answers leave out.
	b, err := os.ReadFile(logFile.Name())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"log: exec in sandbox " + id + ": chdir " + filepath.Join(home, "closed") + ": permission denied\n",
		"log: startProcess in sandbox " + id + ": chdir " + filepath.Join(home, "closed") + ": permission denied\n",
		"log: terminal in sandbox noterm: chdir " + termHome + ": permission denied\n",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the server's log lacks %q:\n%s", want, b)
		}
	}
}

// TestOverloadedNamesNoHostPath: a server out of descriptors answers 503
// E_NIMBUS_DO_OVERLOADED naming the errno, not the host path of the sandbox
// directory it could not open (one descriptor free: the connection takes
// it) nor the name inside the sandbox (two free: the sandbox's directory
// takes the second).
func TestOverloadedNamesNoHostPath(t *testing.T) {
	for _, free := range []string{"1", "2"} {
		url := childServerWith(t, t.TempDir(), []string{childFreeFDsEnv + "=" + free}, nil, os.Stderr)
		st, code, msg := rpcErr(t, url, "busy", "writeFile", "/home/user/a.txt", "x")
		if want := "the local sandbox backend is out of resources (too many open files); retry shortly"; st != 503 || code != "E_NIMBUS_DO_OVERLOADED" || msg != want {
			t.Errorf("%s descriptors free: %d %s %q, want 503 E_NIMBUS_DO_OVERLOADED %q", free, st, code, msg, want)
		}
	}
}

// TestChmodOfAnotherUsersFileAnswersEPERM: chmod of a file the server's
// user does not own answers the host's EPERM in the session's shape, with
// the sandbox path (the Worker's VFS has no owners: its chmod always
// succeeds). As root the backend runs as nobody and the file is root's;
// otherwise the backend runs as root of its own user namespace, where a
// file of the host's root (bind-mounted into the sandbox) has an owner it
// cannot map.
func TestChmodOfAnotherUsersFileAnswersEPERM(t *testing.T) {
	dir := t.TempDir()
	id := "theirs"
	home := sandboxHome(t, dir, id)
	openToAll(t, dir)
	theirs := filepath.Join(home, "theirs.txt")
	if err := os.WriteFile(theirs, []byte("t"), 0o644); err != nil {
		t.Fatal(err)
	}
	var env []string
	var attr *syscall.SysProcAttr
	if os.Getuid() == 0 {
		if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
			if err != nil || p == theirs {
				return err
			}
			return os.Lchown(p, 65534, 65534)
		}); err != nil {
			t.Fatal(err)
		}
		attr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	} else {
		fi, err := os.Stat("/etc/passwd")
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid == uint32(os.Getuid()) {
			t.Fatalf("/etc/passwd is owned by the test's user %d", st.Uid)
		}
		env = []string{childBindEnv + "=/etc/passwd:" + theirs}
		attr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		}
	}
	url := childServerWith(t, dir, env, attr, os.Stderr)
	st, code, msg := rpcErr(t, url, id, "chmod", "/home/user/theirs.txt", 0o600)
	if want := "EPERM: operation not permitted, chmod '/home/user/theirs.txt'"; st != 500 || code != "E_NIMBUS_REMOTE_RPC" || msg != want {
		t.Errorf("chmod of another user's file: %d %s %q, want 500 E_NIMBUS_REMOTE_RPC %q", st, code, msg, want)
	}
}

// TestReadyDiagnosticsNameNoHostPath: when namespaces are given up
// because the probe could not be made in the data directory (one the
// server's user may not write), the ready op's note says why without the
// host path of the data directory. The backend reports its isolation first,
// as nimbus dev does; as root it runs as nobody.
func TestReadyDiagnosticsNameNoHostPath(t *testing.T) {
	dir := t.TempDir()
	id := "probe"
	sandboxHome(t, dir, id)
	openToAll(t, dir)
	attr := asNobody(t, dir)
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
	url := childServerWith(t, dir, []string{childIsolationEnv + "=1"}, attr, os.Stderr)
	st, body := rawRPC(t, url, id, "ready")
	var r struct {
		Result struct{ Diagnostics []string }
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || st != 200 || len(r.Result.Diagnostics) != 1 {
		t.Fatalf("ready: %d %s", st, body)
	}
	note := r.Result.Diagnostics[0]
	if !strings.HasPrefix(note, "the local backend runs commands with host paths (mkdir <data dir>/isolation-probe-") || !strings.Contains(note, ": permission denied): ") || strings.Contains(note, dir) {
		t.Errorf("ready's note: %q", note)
	}
}

// asNobody prepares a child backend that permission bits stop: as root,
// which they do not stop, dir is handed to nobody (65534) and the
// returned attributes run the child as nobody; otherwise nil, and the
// child runs as the test's own user.
func asNobody(t *testing.T, dir string) *syscall.SysProcAttr {
	t.Helper()
	if os.Getuid() != 0 {
		return nil
	}
	if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 65534, 65534)
	}); err != nil {
		t.Fatal(err)
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
}
