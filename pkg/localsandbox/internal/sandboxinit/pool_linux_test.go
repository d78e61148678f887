package sandboxinit

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nimbus-sh/nimbus/internal/proctest"
)

// runOut runs c and returns its stdout, failing unless it exits 0.
func runOut(t *testing.T, c *Cmd) string {
	t.Helper()
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if ex := run(t, c); ex != (Exit{}) {
		t.Fatalf("%+v %q %q", ex, out.String(), errb.String())
	}
	return out.String()
}

func pooled(p *Pool, mode Mode, dir, script string) *Cmd {
	c := shell(mode, dir, script)
	c.Pool = p
	return c
}

func newPool(t *testing.T) *Pool {
	p := &Pool{}
	t.Cleanup(p.Close)
	return p
}

// TestPoolReusesInits: the second command of a sandbox runs under the init
// of the first, which kept nothing of it: what the first left running is
// gone when its Wait returns, and in namespaces the second sees no process
// but its own and the init.
func TestPoolReusesInits(t *testing.T) {
	for _, mode := range []Mode{Reaper, Namespaces} {
		t.Run(mode.String(), func(t *testing.T) {
			p := newPool(t)
			dir := sandboxDir(t)
			m, m2 := proctest.Marker(), proctest.Marker()
			first := pooled(p, mode, dir, "setsid sleep "+m+" & (sleep "+m2+" &) ; echo started")
			if got := runOut(t, first); got != "started\n" {
				t.Fatalf("%q", got)
			}
			for _, mk := range []string{m, m2} {
				if ps := proctest.WithArg(mk); len(ps) > 0 {
					t.Fatalf("sleep %s (pid %v) outlived Wait", mk, ps)
				}
			}
			if p.Idle() != 1 {
				t.Fatalf("%d idle inits", p.Idle())
			}
			second := pooled(p, mode, dir, "echo /proc/[0-9]*; echo $$")
			got := runOut(t, second)
			if second.Pid() != first.Pid() {
				t.Fatalf("a new init (%d, was %d)", second.Pid(), first.Pid())
			}
			if mode == Namespaces {
				lines := strings.Split(got, "\n")
				if len(lines) != 3 || lines[0] != "/proc/1 /proc/"+lines[1] {
					t.Fatalf("processes in the namespace: %q", got)
				}
			}
		})
	}
}

// TestPoolFollowsTheSandboxDirectories: an init mounts the directories it
// found; once they are replaced, the next command gets a new init that
// mounts the new ones.
func TestPoolFollowsTheSandboxDirectories(t *testing.T) {
	p := newPool(t)
	dir := sandboxDir(t)
	first := pooled(p, Namespaces, dir, "true")
	runOut(t, first)
	if err := os.RemoveAll(filepath.Join(dir, "tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tmp", "marker"), []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	second := pooled(p, Namespaces, dir, "cat /tmp/marker")
	if got := runOut(t, second); got != "new\n" {
		t.Fatalf("%q", got)
	}
	if second.Pid() == first.Pid() {
		t.Fatal("the init of the removed directories ran the command")
	}
}

// TestPoolCommandMountsStayWithIt: a command that can mount (the server
// runs as root) and changes the mounts ends its init's service: the next
// command runs under a fresh init, on the sandbox's own mounts. That holds
// for a mount in the init's namespace, a change of propagation type (which
// the mount table does not report), and filesystems changed from a private
// namespace of the command's own (the /home tmpfs made writable to plant a
// file, /proc remounted to hide processes). A command that cannot mount
// changes nothing, and the init serves the next one.
func TestPoolCommandMountsStayWithIt(t *testing.T) {
	for _, tc := range []struct{ name, change, check string }{
		{"tmpfs over /tmp", "umount -l /tmp && mount -t tmpfs none /tmp", "test -e /tmp/marker"},
		{"propagation", "mount --make-rshared / && mount --make-unbindable /tmp", "! grep -qE 'shared:|unbindable' /proc/self/mountinfo"},
		{"home written from a private namespace", "mkdir -p /tmp/h && unshare -m sh -c 'mount -o remount,rw /home && mount --bind /home /tmp/h && mount -o remount,bind,rw /tmp/h && echo x > /tmp/h/planted'",
			"test ! -e /home/planted && ! touch /home/w 2>/dev/null"},
		{"proc remounted from a private namespace", "unshare -m sh -c 'mount -o remount,hidepid=2 /proc'", "test -e /proc/mounts && ! grep -q hidepid /proc/self/mountinfo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPool(t)
			dir := sandboxDir(t)
			if err := os.WriteFile(filepath.Join(dir, "tmp", "marker"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			first := pooled(p, Namespaces, dir, "{ "+tc.change+"; } 2>/dev/null && echo changed; true")
			changed := runOut(t, first) == "changed\n"
			if changed != (os.Getuid() == 0) {
				t.Fatalf("the command could change the mounts: %v, as uid %d", changed, os.Getuid())
			}
			second := pooled(p, Namespaces, dir, tc.check+" && echo sandbox-mounts")
			if got := runOut(t, second); got != "sandbox-mounts\n" {
				t.Fatalf("%q after a command that changed the mounts: %v", got, changed)
			}
			if reused := second.Pid() == first.Pid(); reused == changed {
				t.Fatalf("init reused: %v, after a command that changed the mounts: %v", reused, changed)
			}
			if changed {
				pid := first.Pid()
				proctest.WaitFor(t, "the retired init "+strconv.Itoa(pid)+" to end", func() bool { return syscall.Kill(pid, 0) != nil })
			}
			// A command that mounts nothing leaves the init in service.
			third := pooled(p, Namespaces, dir, "true")
			runOut(t, third)
			if third.Pid() != second.Pid() {
				t.Fatalf("a new init (%d) after a command that mounted nothing (init %d)", third.Pid(), second.Pid())
			}
		})
	}
}

// TestPoolBounds: idle inits beyond MaxIdle (the least recently used) and
// inits idle for longer than IdleTimeout end; Discard ends a sandbox's.
func TestPoolBounds(t *testing.T) {
	p := &Pool{MaxIdle: 2}
	defer p.Close()
	var cmds []*Cmd
	for range 4 {
		c := pooled(p, Namespaces, sandboxDir(t), "true")
		runOut(t, c)
		cmds = append(cmds, c)
	}
	if p.Idle() != 2 {
		t.Fatalf("%d idle inits", p.Idle())
	}
	// The first two went; their processes too.
	for _, c := range cmds[:2] {
		pid := c.Pid()
		proctest.WaitFor(t, "init "+strconv.Itoa(pid)+" to end", func() bool { return syscall.Kill(pid, 0) != nil })
	}
	p.Discard(cmds[3].SandboxDir)
	if p.Idle() != 1 || syscall.Kill(cmds[3].Pid(), 0) == nil {
		t.Fatalf("%d idle inits after Discard", p.Idle())
	}

	q := &Pool{IdleTimeout: 50e6}
	defer q.Close()
	c := pooled(q, Reaper, sandboxDir(t), "true")
	runOut(t, c)
	proctest.WaitFor(t, "the idle init to time out", func() bool { return q.Idle() == 0 && syscall.Kill(c.Pid(), 0) != nil })
}

// TestPoolReplacesDeadInits: an idle init that died (killed from outside)
// is replaced, and a signal to an init (not the server's) does nothing.
func TestPoolReplacesDeadInits(t *testing.T) {
	p := newPool(t)
	dir := sandboxDir(t)
	first := pooled(p, Namespaces, dir, "true")
	runOut(t, first)
	if err := syscall.Kill(first.Pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	second := pooled(p, Namespaces, dir, "echo ok")
	if got := runOut(t, second); got != "ok\n" || second.Pid() != first.Pid() {
		t.Fatalf("%q (init %d, was %d)", got, second.Pid(), first.Pid())
	}
	if err := syscall.Kill(first.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	proctest.WaitFor(t, "the init to be reaped", func() bool { return syscall.Kill(first.Pid(), 0) != nil })
	third := pooled(p, Namespaces, dir, "echo ok")
	if got := runOut(t, third); got != "ok\n" || third.Pid() == first.Pid() {
		t.Fatalf("%q (init %d)", got, third.Pid())
	}
}

// TestKillBeforeStart: a command killed before it started never starts.
func TestKillBeforeStart(t *testing.T) {
	c := pooled(newPool(t), Namespaces, sandboxDir(t), "echo ran")
	c.Kill()
	if err := c.Start(); !IsKilledBeforeStart(err) {
		t.Fatalf("%v", err)
	}
	if _, err := c.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestInitRuntimeSettingsStayOut: an init runs with the Go runtime
// settings of a small supervisor (one processor, a 1 MiB heap goal), and
// the commands it starts see only the environment they were given: the
// GOMAXPROCS, GOGC and GODEBUG a command sets, or none of them.
func TestInitRuntimeSettingsStayOut(t *testing.T) {
	script := `for v in GOMAXPROCS GOGC GODEBUG; do printenv $v || echo "$v unset"; done`
	for _, mode := range []Mode{Reaper, Namespaces} {
		t.Run(mode.String(), func(t *testing.T) {
			p := newPool(t)
			dir := sandboxDir(t)
			first := pooled(p, mode, dir, script)
			if got := runOut(t, first); got != "GOMAXPROCS unset\nGOGC unset\nGODEBUG unset\n" {
				t.Fatalf("a command given none of them sees:\n%s", got)
			}
			environ, err := os.ReadFile("/proc/" + strconv.Itoa(first.Pid()) + "/environ")
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Split(strings.TrimSuffix(string(environ), "\x00"), "\x00"); !slices.Equal(got, []string{"GOMAXPROCS=1", "GOGC=25"}) {
				t.Fatalf("the init's environment: %q", got)
			}
			second := pooled(p, mode, dir, script)
			second.Env = append(second.Env, "GOMAXPROCS=7", "GOGC=400", "GODEBUG=madvdontneed=0")
			if got := runOut(t, second); got != "7\n400\nmadvdontneed=0\n" {
				t.Fatalf("a command given its own sees:\n%s", got)
			}
			if second.Pid() != first.Pid() {
				t.Fatalf("a new init (%d, was %d)", second.Pid(), first.Pid())
			}
		})
	}
}
