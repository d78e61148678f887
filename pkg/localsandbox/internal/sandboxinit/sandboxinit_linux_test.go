package sandboxinit

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/internal/proctest"
)

// TestMain lets the test binary serve as the init.
func TestMain(m *testing.M) {
	MaybeRun()
	os.Exit(m.Run())
}

var modes = []Mode{Direct, Reaper, Namespaces}

// sandboxDir returns a directory laid out as a sandbox's.
func sandboxDir(t testing.TB) string {
	dir := t.TempDir()
	for _, d := range []string{"home/user", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func shell(mode Mode, dir, script string) *Cmd {
	return &Cmd{Mode: mode, Path: "/bin/sh", Args: []string{"/bin/sh", "-c", script}, Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
		Dir: dir, SandboxDir: dir}
}

// run starts c and waits for it.
func run(t *testing.T, c *Cmd) Exit {
	t.Helper()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.Started(); err != nil {
		t.Fatal(err)
	}
	ex, err := c.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

func TestExitsSignalsAndFiles(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			dir := sandboxDir(t)
			var out, errb bytes.Buffer
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer pr.Close()
			c := shell(mode, dir, "read x; echo out $x; echo err >&2; echo four >&4; { echo three >&3; } 2>/dev/null || echo 3-closed; exit 3")
			c.Stdin, c.Stdout, c.Stderr, c.ExtraFiles = strings.NewReader("in\n"), &out, &errb, []*os.File{nil, pw}
			if ex := run(t, c); ex != (Exit{Code: 3}) {
				t.Fatalf("%+v", ex)
			}
			pw.Close()
			three, _ := io.ReadAll(pr)
			if out.String() != "out in\n3-closed\n" || errb.String() != "err\n" || string(three) != "four\n" {
				t.Fatalf("%q %q %q", out.String(), errb.String(), three)
			}
			if ex := run(t, shell(mode, dir, "kill -TERM $$")); ex != (Exit{Code: -1, Signal: syscall.SIGTERM}) {
				t.Fatalf("%+v", ex)
			}
		})
	}
}

// TestSignalAndKill: Signal reaches the shell's process group, Kill ends
// everything, and neither acts on a command that has ended.
func TestSignalAndKill(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			dir := sandboxDir(t)
			m := proctest.Marker()
			c := shell(mode, dir, "trap 'exit 9' USR1; sleep "+m+" & wait")
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			if err := c.Started(); err != nil {
				t.Fatal(err)
			}
			proctest.WaitRunning(t, m)
			if err := c.Signal(syscall.SIGUSR1); err != nil {
				t.Fatal(err)
			}
			if ex, err := c.Wait(); err != nil || ex != (Exit{Code: 9}) {
				t.Fatalf("%+v %v", ex, err)
			}
			if err := c.Signal(syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
				t.Fatalf("signal after the end: %v", err)
			}
			c.Kill() // a no-op now
			proctest.WaitGone(t, m)
			if mode == Direct {
				// Only its process group goes with it.
				return
			}

			m = proctest.Marker()
			c = shell(mode, dir, "setsid sleep "+m+" & wait")
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			if err := c.Started(); err != nil {
				t.Fatal(err)
			}
			proctest.WaitRunning(t, m)
			c.Kill()
			if ex, err := c.Wait(); err != nil || ex.Signal != syscall.SIGKILL {
				t.Fatalf("%+v %v", ex, err)
			}
			if p := proctest.WithArg(m); len(p) > 0 {
				t.Fatalf("%v outlived Wait", p)
			}
		})
	}
}

// TestServerGoneEndsEverything: when this side of the control socket
// closes (the server was killed), the init ends the command and
// everything it started.
func TestServerGoneEndsEverything(t *testing.T) {
	for _, mode := range []Mode{Reaper, Namespaces} {
		t.Run(mode.String(), func(t *testing.T) {
			m, m2 := proctest.Marker(), proctest.Marker()
			c := shell(mode, sandboxDir(t), "setsid sleep "+m+" & sleep "+m2)
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			if err := c.Started(); err != nil {
				t.Fatal(err)
			}
			proctest.WaitRunning(t, m, m2)
			c.ini.ctl.Close()
			c.ini.reap()
			select {
			case <-c.ini.exited:
			case <-time.After(time.Minute):
				t.Fatal("the init did not end once its control socket closed")
			}
			proctest.WaitGone(t, m, m2)
		})
	}
}

func TestStartFailures(t *testing.T) {
	for _, mode := range []Mode{Reaper, Namespaces} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := sandboxDir(t)
			c := shell(mode, dir, "true")
			c.Path = filepath.Join(dir, "no-such-shell")
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			err := c.Started()
			var se *SetupError
			if err == nil || errors.As(err, &se) || !strings.Contains(err.Error(), "no-such-shell") {
				t.Fatalf("%v", err)
			}
			if _, err := c.Wait(); err != nil {
				t.Fatal(err)
			}
		})
	}
	// A sandbox whose home/user is a symlink is not mounted through it.
	dir := sandboxDir(t)
	if err := os.Remove(filepath.Join(dir, "home/user")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(dir, "home/user")); err != nil {
		t.Fatal(err)
	}
	c := shell(Namespaces, dir, "true")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	err := c.Started()
	var se *SetupError
	if err == nil || errors.As(err, &se) || !strings.Contains(err.Error(), "<sandbox>/home/user") {
		t.Fatalf("%v", err)
	}
	_, _ = c.Wait()
}

// TestInitRefusesAnotherProtocol: an init started by another build of the
// program exits at once.
func TestInitRefusesAnotherProtocol(t *testing.T) {
	c := &exec.Cmd{Path: selfExe, Args: []string{Name, "0", "reaper", "", "", "", "/bin/sh", "sh", "-c", "echo ran"}}
	out, err := c.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 70 || len(out) != 0 {
		t.Fatalf("%v %q", err, out)
	}
}

func TestProbeAndAvailable(t *testing.T) {
	if mode, reason := Available(); mode != Namespaces {
		t.Fatalf("this machine allows user namespaces, but: %s %s", mode, reason)
	}
	parent := t.TempDir()
	if err := Probe(parent); err != nil {
		t.Fatal(err)
	}
	if ents, err := os.ReadDir(parent); err != nil || len(ents) != 0 {
		t.Fatalf("the probe left %v %v", ents, err)
	}
}

// BenchmarkStart measures one `sh -c true` in each mode, start to end:
// Direct is the floor; the others add an init, started for the command
// alone (fresh) or kept in a pool between commands (pooled), in which case
// a command costs the fork+exec of the shell and a few messages.
func BenchmarkStart(b *testing.B) {
	for _, mode := range modes {
		for _, pooled := range []bool{false, true} {
			name := mode.String() + "/fresh"
			if pooled {
				name = mode.String() + "/pooled"
			}
			if mode == Direct && pooled {
				continue
			}
			b.Run(name, func(b *testing.B) {
				dir := sandboxDir(b)
				var pool *Pool
				if pooled {
					pool = &Pool{}
					defer pool.Close()
				}
				for b.Loop() {
					c := shell(mode, dir, "true")
					c.Pool = pool
					if err := c.Start(); err != nil {
						b.Fatal(err)
					}
					if err := c.Started(); err != nil {
						b.Fatal(err)
					}
					if _, err := c.Wait(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestNilEnvIsEmptyInEveryMode: a nil Env is an empty environment whatever
// the mode; Direct mode does not inherit this process's environment as
// exec.Cmd would, so a secret of the server's cannot reach a sandbox.
func TestNilEnvIsEmptyInEveryMode(t *testing.T) {
	t.Setenv("SANDBOXINIT_SERVER_SECRET", "must-not-leak")
	// What a shell sets by itself when its environment is empty.
	shellSet := map[string]bool{"PWD": true, "OLDPWD": true, "SHLVL": true, "_": true}
	for _, mode := range modes {
		for _, env := range [][]string{nil, {}} {
			name := mode.String() + "/nil"
			if env != nil {
				name = mode.String() + "/empty"
			}
			t.Run(name, func(t *testing.T) {
				dir := sandboxDir(t)
				var out bytes.Buffer
				c := shell(mode, dir, "echo start; exec /usr/bin/env")
				c.Env = env
				c.Stdout = &out
				ex := run(t, c)
				lines := strings.Split(strings.TrimSpace(out.String()), "\n")
				if ex.Code != 0 || lines[0] != "start" {
					t.Fatalf("exit %+v, output:\n%s", ex, out.String())
				}
				for _, kv := range lines[1:] {
					if k, _, _ := strings.Cut(kv, "="); !shellSet[k] {
						t.Errorf("%s: the command's environment holds %q", mode, kv)
					}
				}
			})
		}
	}
}

// TestLargeCommandFrame sends a command whose environment is hundreds of
// times a read of the control socket, twice through the same init: the
// frame is put together from many reads, its files still arrive with it,
// and a short command after it is read as usual.
func TestLargeCommandFrame(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			var p Pool
			defer p.Close()
			dir := sandboxDir(t)
			env := []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
			for i := range 10 {
				// Each under the kernel's 128 KiB limit on one string.
				env = append(env, "V"+strconv.Itoa(i)+"="+strings.Repeat(strconv.Itoa(i), 100<<10))
			}
			for round := range 2 {
				var out bytes.Buffer
				c := shell(mode, dir, `printf %s "$V0$V5$V9" | wc -c; read x; echo "$x"`)
				c.Pool, c.Env, c.Stdin, c.Stdout = &p, env, strings.NewReader("in\n"), &out
				if ex := run(t, c); ex.Code != 0 || out.String() != "307200\nin\n" {
					t.Fatalf("round %d: exit %+v, output %q", round, ex, out.String())
				}
				out.Reset()
				c = shell(mode, dir, "echo small")
				c.Pool, c.Stdout = &p, &out
				if ex := run(t, c); ex.Code != 0 || out.String() != "small\n" {
					t.Fatalf("round %d, after: exit %+v, output %q", round, ex, out.String())
				}
			}
		})
	}
}
