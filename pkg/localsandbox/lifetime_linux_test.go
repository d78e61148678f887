package localsandbox_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/internal/proctest"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// isolationModes are both modes of a Linux machine: namespaces (required:
// a machine that forbids them fails here, naming the sysctl) and the host
// paths every other machine gets, forced by the option.
var isolationModes = []struct {
	name string
	opt  localsandbox.Isolation
	want string
}{
	{"namespaces", localsandbox.IsolationNamespaces, localsandbox.ModeNamespaces},
	{"host-paths", localsandbox.IsolationHostPaths, localsandbox.ModeHostPaths},
}

// eachMode runs f against a server in each isolation mode.
func eachMode(t *testing.T, f func(t *testing.T, s *localsandbox.Server, url string)) {
	for _, m := range isolationModes {
		t.Run(m.name, func(t *testing.T) {
			s, hs := newServer(t, func(o *localsandbox.Options) { o.Isolation = m.opt })
			if st := s.Isolation(); st.Mode != m.want {
				t.Fatalf("isolation %+v, want mode %s", st, m.want)
			}
			f(t, s, hs.URL)
		})
	}
}

// escapees is a script that starts, in every way a command can leave its
// process group or parent behind, one sleep per marker, and returns once
// all of them run: setsid, a double fork, nohup, and a daemon-style
// setsid + double fork. It runs in the sandbox's home.
func escapees(m [4]string) string {
	started := func(i int) string { return "started-" + m[i] }
	return `setsid sh -c 'touch ` + started(0) + `; exec sleep ` + m[0] + `' </dev/null >/dev/null 2>&1 &
( sh -c 'touch ` + started(1) + `; exec sleep ` + m[1] + `' & ) 
nohup sh -c 'touch ` + started(2) + `; exec sleep ` + m[2] + `' </dev/null >/dev/null 2>&1 &
setsid sh -c "sh -c 'touch ` + started(3) + `; exec sleep ` + m[3] + `' & exit" </dev/null >/dev/null 2>&1 &
for f in ` + started(0) + ` ` + started(1) + ` ` + started(2) + ` ` + started(3) + `; do
  while [ ! -e $f ]; do sleep 0.01; done
done
`
}

func markers4() [4]string {
	return [4]string{proctest.Marker(), proctest.Marker(), proctest.Marker(), proctest.Marker()}
}

func TestOneShotExecLeavesNothingBehind(t *testing.T) {
	eachMode(t, func(t *testing.T, s *localsandbox.Server, url string) {
		sb := box(t, url, "job-1")
		m := markers4()
		start := time.Now()
		run(t, sb, escapees(m))
		if time.Since(start) > 10*time.Second {
			t.Fatalf("exec waited %v for what it left running", time.Since(start))
		}
		proctest.WaitGone(t, m[:]...)
	})
}

func TestDestroyEndsEveryProcessOfTheSandbox(t *testing.T) {
	eachMode(t, func(t *testing.T, s *localsandbox.Server, url string) {
		sb := box(t, url, "job-1", token.ScopeSandboxUse, token.ScopeSessionDestroy)
		x := ctx(t)
		bg, fg := markers4(), markers4()
		if _, err := sb.StartProcess(x, escapees(bg)+"sleep "+proctest.Marker(), sc.StartOptions{}); err != nil {
			t.Fatal(err)
		}
		st, err := sb.ExecStream(x, escapees(fg)+"echo up; sleep "+proctest.Marker(), sc.ExecOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if c, err := st.Next(); err != nil || string(c.Data) != "up\n" {
			t.Fatalf("%q %v", c.Data, err)
		}
		proctest.WaitRunning(t, bg[:]...)
		proctest.WaitRunning(t, fg[:]...)
		res, err := sb.Destroy(x, "")
		if err != nil || res.Killed != 2 {
			t.Fatalf("%+v %v", res, err)
		}
		// Destroy answers once they are gone.
		for _, m := range append(bg[:], fg[:]...) {
			if p := proctest.WithArg(m); len(p) > 0 {
				t.Errorf("sleep %s (pid %v) survived destroy", m, p)
			}
		}
	})
}

func TestKillProcessEndsWhatItStarted(t *testing.T) {
	eachMode(t, func(t *testing.T, s *localsandbox.Server, url string) {
		sb := box(t, url, "job-1")
		x := ctx(t)
		m := markers4()
		p, err := sb.StartProcess(x, escapees(m)+"echo up; sleep "+proctest.Marker(), sc.StartOptions{})
		if err != nil {
			t.Fatal(err)
		}
		proctest.WaitRunning(t, m[:]...)
		if a, err := sb.KillProcess(x, p.PID); err != nil || !a.OK {
			t.Fatalf("%+v %v", a, err)
		}
		exit, err := sb.FollowLogs(x, p.PID, 0, 25*time.Millisecond, func(*sc.Logs) error { return nil })
		if err != nil || exit.Code != 137 || exit.Reason == nil || *exit.Reason != "SIGKILL" {
			t.Fatalf("%+v %v", exit, err)
		}
		proctest.WaitGone(t, m[:]...)
	})
}

func TestSignalsReachTheProcessGroup(t *testing.T) {
	eachMode(t, func(t *testing.T, s *localsandbox.Server, url string) {
		sb := box(t, url, "job-1")
		x := ctx(t)
		m := proctest.Marker()
		p, err := sb.StartProcess(x, "trap 'echo got-term; exit 7' TERM; sleep "+m+" & wait", sc.StartOptions{})
		if err != nil {
			t.Fatal(err)
		}
		proctest.WaitRunning(t, m)
		for _, sig := range []string{"SIGSTOP", "SIGCONT", "SIGTERM"} {
			if a, err := sb.SignalProcess(x, p.PID, sig); err != nil || !a.OK {
				t.Fatalf("%s: %+v %v", sig, a, err)
			}
		}
		var out strings.Builder
		exit, err := sb.FollowLogs(x, p.PID, 0, 25*time.Millisecond, func(l *sc.Logs) error {
			out.WriteString(l.Text)
			return nil
		})
		if err != nil || exit.Code != 7 || out.String() != "got-term\n" {
			t.Fatalf("%+v %q %v", exit, out.String(), err)
		}
		proctest.WaitGone(t, m)
		if a, err := sb.SignalProcess(x, p.PID, "SIGTERM"); err != nil || a.OK {
			t.Fatalf("signal after exit: %+v %v", a, err)
		}
	})
}

func TestCloseEndsEveryProcess(t *testing.T) {
	eachMode(t, func(t *testing.T, s *localsandbox.Server, url string) {
		x := ctx(t)
		m := markers4()
		for i, id := range []string{"a", "b"} {
			sb := box(t, url, id)
			if i == 0 {
				if _, err := sb.StartProcess(x, escapees(m)+"sleep "+proctest.Marker(), sc.StartOptions{}); err != nil {
					t.Fatal(err)
				}
				continue
			}
			st, err := sb.ExecStream(x, "echo up; exec sleep "+proctest.Marker(), sc.ExecOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := st.Next(); err != nil {
				t.Fatal(err)
			}
		}
		proctest.WaitRunning(t, m[:]...)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for _, mk := range m {
			if p := proctest.WithArg(mk); len(p) > 0 {
				t.Errorf("sleep %s (pid %v) survived Close", mk, p)
			}
		}
	})
}

// TestInProcessBackendEndsWithItsCommand is --local: a backend served in
// the process through Transport, closed when the command ends.
func TestInProcessBackendEndsWithItsCommand(t *testing.T) {
	s, err := localsandbox.New(localsandbox.Options{DataDir: t.TempDir(), Secret: secret, HostEnv: []string{"PATH=" + os.Getenv("PATH")}, NoBackground: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := sc.New(sc.Options{Endpoint: "http://local.invalid", Tokens: sc.StaticToken(mint(t, "job-1", token.ScopeSandboxUse)),
		HTTPClient: &http.Client{Transport: &localsandbox.Transport{Handler: s}}})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.Sandbox("job-1", sc.SandboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := markers4()
	cctx, cancel := context.WithCancel(ctx(t))
	st, err := sb.ExecStream(cctx, escapees(m)+"echo up; sleep "+proctest.Marker(), sc.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Next(); err != nil {
		t.Fatal(err)
	}
	proctest.WaitRunning(t, m[:]...)
	// The command is interrupted, then the backend closed, as the CLI
	// does on Ctrl-C.
	cancel()
	st.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, mk := range m {
		if p := proctest.WithArg(mk); len(p) > 0 {
			t.Errorf("sleep %s (pid %v) survived the in-process backend", mk, p)
		}
	}
}
