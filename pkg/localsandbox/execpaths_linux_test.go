package localsandbox_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/internal/proctest"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// execModes are the two ways an init runs commands: in namespaces where
// the kernel allows them (as the PID 1 of a namespace), and on host paths
// (as a subreaper).
var execModes = []struct {
	name string
	iso  localsandbox.Isolation
}{{"default", localsandbox.IsolationAuto}, {"host-paths", localsandbox.IsolationHostPaths}}

// modeBox returns a sandbox of a new server in mode iso, over the
// in-process transport.
func modeBox(t *testing.T, iso localsandbox.Isolation) (*localsandbox.Server, *sc.Sandbox) {
	t.Helper()
	return modeBoxWith(t, iso, sc.SandboxOptions{})
}

// modeBoxWith is modeBox with the sandbox's options (a named shell).
func modeBoxWith(t *testing.T, iso localsandbox.Isolation, o sc.SandboxOptions) (*localsandbox.Server, *sc.Sandbox) {
	t.Helper()
	return modeBoxTimeout(t, iso, o, 0)
}

// modeBoxTimeout is modeBoxWith with the client's HTTPTimeout (0: the
// default).
func modeBoxTimeout(t *testing.T, iso localsandbox.Isolation, o sc.SandboxOptions, httpTimeout time.Duration) (*localsandbox.Server, *sc.Sandbox) {
	t.Helper()
	s, err := localsandbox.New(localsandbox.Options{DataDir: t.TempDir(), Secret: secret, Isolation: iso,
		HostEnv: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	c, err := sc.New(sc.Options{Endpoint: "http://local.invalid", Tokens: sc.StaticToken(mint(t, "job-1", token.ScopeSandboxUse)),
		HTTPClient: &http.Client{Transport: &localsandbox.Transport{Handler: s}}, HTTPTimeout: httpTimeout})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.Sandbox("job-1", o)
	if err != nil {
		t.Fatal(err)
	}
	return s, sb
}

// sockets counts this process's socket descriptors: an init's control
// socket, and the duplicate of it a running command's pump watches.
func sockets(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

// drain reads a stream to its end: the byte counts of stdout and stderr,
// the start of stdout and stderr.
func drain(t *testing.T, st *sc.ExecStream) (out, errOut int, outS, errS string, err error) {
	var ob, eb strings.Builder
	for {
		c, e := st.Next()
		if errors.Is(e, io.EOF) {
			return out, errOut, ob.String(), eb.String(), nil
		}
		if e != nil {
			return out, errOut, ob.String(), eb.String(), e
		}
		if c.Kind == sc.FrameStdout {
			out += len(c.Data)
			if ob.Len() < 1<<16 {
				ob.Write(c.Data)
			}
		} else {
			errOut += len(c.Data)
			eb.Write(c.Data)
		}
	}
}

// TestExecOutputWholeAtExit: a background child of the shell does not
// hold the request (the init ends it with the shell), 10 MB of output
// arrives whole before the exit code, and input of every size around
// what is written ahead into the pipe (4 KiB) arrives whole.
func TestExecOutputWholeAtExit(t *testing.T) {
	for _, m := range execModes {
		t.Run(m.name, func(t *testing.T) {
			_, sb := modeBox(t, m.iso)
			mk := proctest.Marker()
			r, err := sb.Exec(ctx(t), "sh -c 'sleep 3; echo late' "+mk+" & echo early", sc.ExecOptions{})
			if err != nil || r.Stdout != "early\n" || r.ExitCode != 0 {
				t.Fatalf("%+v %v", r, err)
			}
			proctest.WaitGone(t, mk)
			st, err := sb.ExecStream(ctx(t), "head -c 10485760 /dev/zero; echo done >&2; exit 7", sc.ExecOptions{})
			if err != nil {
				t.Fatal(err)
			}
			n, _, _, e, err := drain(t, st)
			if err != nil || n != 10485760 || e != "done\n" || st.Exit() == nil || st.Exit().ExitCode != 7 {
				t.Fatalf("n=%d stderr=%q exit=%+v err=%v", n, e, st.Exit(), err)
			}
			for _, size := range []int{0, 1, 4095, 4096, 4097, 70000} {
				in := strings.Repeat("x", size)
				r, err := sb.Exec(ctx(t), "wc -c", sc.ExecOptions{Stdin: &in})
				if err != nil || strings.TrimSpace(r.Stdout) != strconv.Itoa(size) {
					t.Fatalf("stdin %d: %+v %v", size, r, err)
				}
			}
		})
	}
}

// TestConcurrentExecsLeaveNoDescriptor: 200 commands at once on one
// sandbox, half with input, each get their own output and exit code, and
// once the server is closed no socket is left (the pump's duplicate of an
// init's control socket is closed on every path).
func TestConcurrentExecsLeaveNoDescriptor(t *testing.T) {
	for _, m := range execModes {
		t.Run(m.name, func(t *testing.T) {
			base := sockets(t)
			// The batch is about output and descriptors, not speed: 200
			// commands under -race on two loaded cores (CI runs packages
			// side by side) took more than ctx's 30 s, and the last of
			// them waited more than the client's default HTTPTimeout
			// (30 s) for their answers to begin, which failed them with
			// an HTTP timeout. Both bounds are the batch's.
			const bound = 3 * time.Minute
			s, sb := modeBoxTimeout(t, m.iso, sc.SandboxOptions{}, bound)
			batch, cancel := context.WithTimeout(context.Background(), bound)
			defer cancel()
			var wg sync.WaitGroup
			errs := make(chan string, 200)
			for i := range 200 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					in := "in" + strconv.Itoa(i) + "\n"
					o := sc.ExecOptions{}
					script := "echo o" + strconv.Itoa(i) + "; echo e" + strconv.Itoa(i) + " >&2; exit " + strconv.Itoa(i%5)
					want := "o" + strconv.Itoa(i) + "\n"
					if i%2 == 0 {
						o.Stdin = &in
						script = "cat; " + script
						want = in + want
					}
					r, err := sb.Exec(batch, script, o)
					if err != nil {
						errs <- strconv.Itoa(i) + ": " + err.Error()
						return
					}
					if r.Stdout != want || r.Stderr != "e"+strconv.Itoa(i)+"\n" || r.ExitCode != i%5 {
						errs <- strconv.Itoa(i) + ": " + r.Stdout + "|" + r.Stderr + "|" + strconv.Itoa(r.ExitCode)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Error(e)
			}
			_ = s.Close()
			proctest.WaitFor(t, "sockets back to the base count", func() bool { return sockets(t) <= base })
		})
	}
}

// parentOf returns the host pid of the init that runs the process with
// arg.
func parentOf(t *testing.T, arg string) int {
	var pids []int
	proctest.WaitFor(t, "the writer", func() bool { pids = proctest.WithArg(arg); return len(pids) > 0 })
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pids[0]) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(st), ") ")
	f := strings.Fields(rest)
	pp, _ := strconv.Atoi(f[1])
	cmdline, _ := os.ReadFile("/proc/" + f[1] + "/cmdline")
	if !strings.Contains(string(cmdline), "nimbus-sandbox-init") {
		t.Fatalf("parent %d of %d is %q, not an init", pp, pids[0], cmdline)
	}
	return pp
}

// TestInitKilledDuringWriteEndsTheCommand: an init killed while its
// command writes ends the request with exit 137 (not a hang), the
// sandbox runs the next command, and no socket is left.
func TestInitKilledDuringWriteEndsTheCommand(t *testing.T) {
	for _, m := range execModes {
		t.Run(m.name, func(t *testing.T) {
			base := sockets(t)
			s, sb := modeBox(t, m.iso)
			mk := proctest.Marker()
			st, err := sb.ExecStream(ctx(t), `exec sh -c 'while :; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done' `+mk, sc.ExecOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Next(); err != nil {
				t.Fatal(err)
			}
			ini := parentOf(t, mk)
			if err := syscall.Kill(ini, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_, _, _, _, err = drain(t, st)
			if err == nil && (st.Exit() == nil || st.Exit().ExitCode != 137) {
				t.Fatalf("exit %+v", st.Exit())
			}
			proctest.WaitGone(t, mk)
			// The sandbox still runs commands.
			if out := run(t, sb, "echo ok"); out != "ok\n" {
				t.Fatal(out)
			}
			_ = s.Close()
			proctest.WaitFor(t, "sockets back to the base count", func() bool { return sockets(t) <= base })
		})
	}
}

// TestEndedCommandsLeaveNoDescriptor: a command ended by its client going
// away, by its timeout while it writes, or by the server's shutdown ends,
// and leaves no socket behind.
func TestEndedCommandsLeaveNoDescriptor(t *testing.T) {
	for _, m := range execModes {
		t.Run(m.name, func(t *testing.T) {
			base := sockets(t)
			s, sb := modeBox(t, m.iso)
			// Client disconnect mid-stream.
			mk := proctest.Marker()
			c, cancel := context.WithCancel(ctx(t))
			st, err := sb.ExecStream(c, `exec sh -c 'while :; do echo yyyyyyyyyyyyyyyyyyyyyyyyyy; done' `+mk, sc.ExecOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Next(); err != nil {
				t.Fatal(err)
			}
			cancel()
			st.Close()
			proctest.WaitGone(t, mk)
			// Timeout while writing.
			r, err := sb.Exec(ctx(t), `while :; do echo z; done`, sc.ExecOptions{Timeout: 300 * time.Millisecond})
			if err != nil || r.ExitCode != 124 || !strings.HasSuffix(r.Stderr, "command timed out after 300ms\n") {
				t.Fatalf("%d %q %v", r.ExitCode, r.Stderr, err)
			}
			// Server shutdown mid-command.
			mk2 := proctest.Marker()
			st, err = sb.ExecStream(ctx(t), `exec sh -c 'while :; do echo wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww; done' `+mk2, sc.ExecOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Next(); err != nil {
				t.Fatal(err)
			}
			drained := make(chan error, 1)
			go func() { _, _, _, _, err := drain(t, st); drained <- err }()
			_ = s.Close()
			err = <-drained
			if err == nil && (st.Exit() == nil || st.Exit().ExitCode != 137) {
				t.Fatalf("after the shutdown: exit %+v", st.Exit())
			}
			proctest.WaitGone(t, mk2)
			proctest.WaitFor(t, "sockets back to the base count", func() bool { return sockets(t) <= base })
		})
	}
}
