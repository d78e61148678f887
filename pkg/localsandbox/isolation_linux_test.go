package localsandbox_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nimbus-sh/nimbus/internal/proctest"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

func nsServer(t *testing.T) (*localsandbox.Server, string) {
	t.Helper()
	s, hs := newServer(t, func(o *localsandbox.Options) { o.Isolation = localsandbox.IsolationNamespaces })
	return s, hs.URL
}

// TestNamespacesShowTheSandboxAtItsOwnPaths: commands and file operations
// agree on every path under /home/user and /tmp.
func TestNamespacesShowTheSandboxAtItsOwnPaths(t *testing.T) {
	s, url := nsServer(t)
	sb := box(t, url, "job-1")
	x := ctx(t)
	if got := run(t, sb, "pwd; echo $HOME $TMPDIR $PWD"); got != "/home/user\n/home/user /tmp /home/user\n" {
		t.Fatalf("%q", got)
	}
	// The shell runs under the init, PID 1 of its own PID namespace whose
	// /proc is mounted (NSpid there is just $$), as the same user, without
	// the init's capability.
	if got := run(t, sb, "grep NSpid /proc/$$/status | cut -f2-; echo $$; tr '\\0' ' ' </proc/1/cmdline; echo; id -u; id -g; grep CapEff /proc/self/status"); !regexp.MustCompile(`^(\d+)\n(\d+)\nnimbus-sandbox-init `).MatchString(got) ||
		strings.Split(got, "\n")[0] != strings.Split(got, "\n")[1] ||
		!strings.Contains(got, "\n"+strconv.Itoa(os.Getuid())+"\n"+strconv.Itoa(os.Getgid())+"\n") {
		t.Fatalf("%q", got)
	} else if os.Getuid() != 0 && !strings.HasSuffix(got, "CapEff:\t0000000000000000\n") {
		t.Fatalf("the shell kept capabilities: %q", got)
	}
	// Written by a command, read by file ops; and the other way round.
	run(t, sb, "echo one > /home/user/a.txt; mkdir -p /tmp/d && echo two > /tmp/d/b.txt")
	for p, want := range map[string]string{"/home/user/a.txt": "one\n", "/tmp/d/b.txt": "two\n"} {
		if got, ok, err := sb.ReadFile(x, p); err != nil || !ok || got != want {
			t.Fatalf("%s: %q %v %v", p, got, ok, err)
		}
	}
	if err := sb.WriteFile(x, "/tmp/c.txt", []byte("three")); err != nil {
		t.Fatal(err)
	}
	if got := run(t, sb, "cat /tmp/c.txt ~/a.txt"); got != "threeone\n" {
		t.Fatalf("%q", got)
	}
	// Absolute symlinks into /home/user and /tmp lead, for file ops too,
	// where they lead for commands; one to the host's /etc stays refused.
	run(t, sb, "ln -s /home/user/a.txt abs; ln -s /tmp/d tdir; ln -s /etc etc-link; ln -s /home/user/loop loop")
	for p, want := range map[string]string{"/home/user/abs": "one\n", "/home/user/tdir/b.txt": "two\n"} {
		if got, ok, err := sb.ReadFile(x, p); err != nil || !ok || got != want {
			t.Fatalf("%s: %q %v %v", p, got, ok, err)
		}
	}
	if err := sb.WriteFile(x, "/home/user/tdir/through.txt", []byte("four")); err != nil {
		t.Fatal(err)
	}
	if got := run(t, sb, "cat /tmp/d/through.txt"); got != "four" {
		t.Fatalf("%q", got)
	}
	if st, err := sb.Lstat(x, "/home/user/abs"); err != nil || st == nil || st.Type != "symlink" {
		t.Fatalf("lstat follows the link: %+v %v", st, err)
	}
	for _, p := range []string{"/home/user/etc-link/passwd", "/home/user/loop"} {
		if _, _, err := sb.ReadFile(x, p); err == nil || !strings.Contains(err.Error(), "EACCES") {
			t.Fatalf("%s: %v", p, err)
		}
	}
	// /tmp is the sandbox's own: neither the host nor another sandbox sees it.
	name := "nimbus-test-" + proctest.Marker()
	run(t, sb, "touch /tmp/"+name)
	if _, err := os.Stat("/tmp/" + name); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the host sees the sandbox's /tmp: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.SandboxDir("acme:alice:job-1"), "tmp", name)); err != nil {
		t.Fatal(err)
	}
	if r, err := box(t, url, "job-2").Exec(x, "test -e /tmp/"+name, sc.ExecOptions{}); err != nil || r.ExitCode != 1 {
		t.Fatalf("another sandbox sees it: %+v %v", r, err)
	}
	// /home holds the sandbox and the host's other home directories, and
	// nothing can be added to it.
	want := []string{"user"}
	if ents, err := os.ReadDir("/home"); err == nil {
		for _, e := range ents {
			if e.Name() != "user" && (e.IsDir() || e.Type()&os.ModeSymlink != 0) {
				want = append(want, e.Name())
			}
		}
	}
	got := strings.Fields(run(t, sb, "ls -A /home"))
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("/home has %v, want %v", got, want)
	}
	if r, err := sb.Exec(x, "touch /home/intruder", sc.ExecOptions{}); err != nil || r.ExitCode == 0 {
		t.Fatalf("%+v %v", r, err)
	}
	// cwd under the mounts is entered by its sandbox path; elsewhere by the
	// host path of the sandbox's directory.
	if got := run2(t, sb, "pwd", sc.ExecOptions{Cwd: "/tmp/d"}); got != "/tmp/d\n" {
		t.Fatalf("%q", got)
	}
	if got := run2(t, sb, "pwd", sc.ExecOptions{Cwd: "/"}); got != s.SandboxDir("acme:alice:job-1")+"\n" {
		t.Fatalf("%q", got)
	}
	// A named shell keeps a cwd under /tmp.
	named, err := mustClient(t, url, "job-1").Sandbox("job-1", sc.SandboxOptions{ShellID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	run(t, named, "cd /tmp/d")
	if got := run(t, named, "pwd"); got != "/tmp/d\n" {
		t.Fatalf("%q", got)
	}
	// ready has nothing to warn about.
	if r, err := sb.Ready(x); err != nil || len(r.Diagnostics) != 0 {
		t.Fatalf("%+v %v", r, err)
	}
}

// TestPathConfinementWithHostPaths is TestPathConfinement (which runs in
// namespaces here) with host paths.
func TestPathConfinementWithHostPaths(t *testing.T) {
	s, hs := newServer(t, func(o *localsandbox.Options) { o.Isolation = localsandbox.IsolationHostPaths })
	testConfinement(t, s, hs.URL)
}

// TestHostPathsAreSaid: with host paths, commands see the host's layout
// and ready says so.
func TestHostPathsAreSaid(t *testing.T) {
	s, hs := newServer(t, func(o *localsandbox.Options) { o.Isolation = localsandbox.IsolationHostPaths })
	sb := box(t, hs.URL, "job-1")
	x := ctx(t)
	dir := s.SandboxDir("acme:alice:job-1")
	if got := run(t, sb, "pwd; echo $HOME $TMPDIR"); got != dir+"/home/user\n"+dir+"/home/user "+dir+"/tmp\n" {
		t.Fatalf("%q", got)
	}
	name := "nimbus-test-" + proctest.Marker()
	t.Cleanup(func() { _ = os.Remove("/tmp/" + name) })
	run(t, sb, "touch /tmp/"+name)
	if _, err := os.Stat("/tmp/" + name); err != nil {
		t.Fatalf("host paths: /tmp is the host's: %v", err)
	}
	// An absolute symlink is the host's for commands: file ops refuse it.
	run(t, sb, "echo one > a.txt; ln -s "+dir+"/home/user/a.txt abs")
	if _, _, err := sb.ReadFile(x, "/home/user/abs"); err == nil || !strings.Contains(err.Error(), "EACCES") {
		t.Fatal(err)
	}
	r, err := sb.Ready(x)
	if err != nil || len(r.Diagnostics) != 1 || !strings.Contains(r.Diagnostics[0], "host paths (turned off by the server's options)") {
		t.Fatalf("%+v %v", r, err)
	}
	if st := s.Isolation(); st.Namespaces() || st.Reason != "turned off by the server's options" {
		t.Fatalf("%+v", st)
	}
}

// TestFallbackWhenTheKernelRefusesNamespaces runs a server where user
// namespaces look allowed but mount namespaces are not (a user namespace
// with user.max_mnt_namespaces = 0): its first command gives namespaces up,
// runs with host paths, and the server says why from then on; a server
// that requires namespaces refuses to start.
func TestFallbackWhenTheKernelRefusesNamespaces(t *testing.T) {
	c := exec.Command(os.Args[0], "-test.run=^TestFallbackHelperProcess$")
	c.Env = append(os.Environ(), "LOCALSANDBOX_FALLBACK_HELPER="+t.TempDir())
	c.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var res fallbackResult
	for _, line := range strings.Split(string(out), "\n") {
		if j, ok := strings.CutPrefix(line, "RESULT "); ok {
			if err := json.Unmarshal([]byte(j), &res); err != nil {
				t.Fatal(err)
			}
		}
	}
	if res.ReadyBefore != 0 {
		t.Fatalf("ready warned before any command: %+v", res)
	}
	if !strings.HasSuffix(res.Pwd, "/home/user\n") || res.Pwd == "/home/user\n" || res.ExitCode != 0 {
		t.Fatalf("the command did not run with host paths: %+v\n%s", res, out)
	}
	for _, st := range []localsandbox.IsolationStatus{res.After, res.Probed} {
		if st.Mode != localsandbox.ModeHostPaths || !strings.Contains(st.Reason, "no space left on device") {
			t.Fatalf("%+v", res)
		}
	}
	if len(res.Diagnostics) != 1 || !strings.Contains(res.Diagnostics[0], "no space left on device") {
		t.Fatalf("%+v", res.Diagnostics)
	}
	if res.RequiredErr != localsandbox.CodeIsolation {
		t.Fatalf("a server requiring namespaces started: %q", res.RequiredErr)
	}
}

type fallbackResult struct {
	ReadyBefore int
	Pwd         string
	ExitCode    int
	After       localsandbox.IsolationStatus
	Diagnostics []string
	Probed      localsandbox.IsolationStatus
	RequiredErr string
}

// inProcess returns a fresh in-process server and a handle maker.
func inProcess(t *testing.T, dir string) (*localsandbox.Server, func(id string) *sc.Sandbox) {
	t.Helper()
	s, err := localsandbox.New(localsandbox.Options{DataDir: dir, Secret: secret, HostEnv: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	c, err := sc.New(sc.Options{Endpoint: "http://local.invalid", Tokens: sc.StaticToken(mint(t, "", token.ScopeSandboxUse)),
		HTTPClient: &http.Client{Transport: &localsandbox.Transport{Handler: s}}})
	if err != nil {
		t.Fatal(err)
	}
	return s, func(id string) *sc.Sandbox {
		sb, err := c.Sandbox(id, sc.SandboxOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return sb
	}
}

// TestFallbackHelperProcess is the server of the test above, run in its
// own user namespace; it does nothing in a normal test run.
func TestFallbackHelperProcess(t *testing.T) {
	dir := os.Getenv("LOCALSANDBOX_FALLBACK_HELPER")
	if dir == "" {
		return
	}
	if err := os.WriteFile("/proc/sys/user/max_mnt_namespaces", []byte("0"), 0); err != nil {
		t.Fatal(err)
	}
	var res fallbackResult
	// The first command meets the refusal.
	s, handle := inProcess(t, filepath.Join(dir, "a"))
	sb := handle("job-1")
	r, err := sb.Ready(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	res.ReadyBefore = len(r.Diagnostics)
	er, err := sb.Exec(ctx(t), "pwd", sc.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res.Pwd, res.ExitCode = er.Stdout, er.ExitCode
	res.After = s.Isolation()
	if r, err = handle("job-2").Ready(ctx(t)); err != nil {
		t.Fatal(err)
	}
	res.Diagnostics = r.Diagnostics
	s3, _ := inProcess(t, filepath.Join(dir, "b"))
	res.Probed = s3.Isolation()
	_, err = localsandbox.New(localsandbox.Options{DataDir: filepath.Join(dir, "c"), Secret: secret, Isolation: localsandbox.IsolationNamespaces})
	var le *localsandbox.Error
	if errors.As(err, &le) {
		res.RequiredErr = le.Code
	}
	b, _ := json.Marshal(res)
	os.Stdout.Write(append(append([]byte("RESULT "), b...), '\n'))
}
func run2(t *testing.T, sb *sc.Sandbox, cmd string, o sc.ExecOptions) string {
	t.Helper()
	r, err := sb.Exec(ctx(t), cmd, o)
	if err != nil || r.ExitCode != 0 {
		t.Fatalf("%s: %+v %v", cmd, r, err)
	}
	return r.Stdout
}

func mustClient(t *testing.T, url, id string) *sc.Client {
	t.Helper()
	c, err := sc.New(sc.Options{Endpoint: url, Tokens: sc.StaticToken(mint(t, id, token.ScopeSandboxUse))})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
