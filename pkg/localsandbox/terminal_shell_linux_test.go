package localsandbox_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/terminal/frame"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// hostShell writes a shell at path that works on the host (it runs
// /bin/sh), and checks that it does.
func hostShell(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\nexec /bin/sh \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(path, "-c", "echo host-ok").CombinedOutput(); err != nil || string(out) != "host-ok\n" {
		t.Fatalf("the shell does not run on the host: %q %v", out, err)
	}
}

// TestTerminalShellHiddenByNamespacesFallsBack: nimbus dev passes the
// operator's $SHELL, a host path; in namespaces one under /tmp (the
// sandbox's own there) cannot start, and the terminal failed to attach
// every time ("Init failed: fork/exec …"). It runs the command shell
// instead, says so in its first line without the host path, and
// TerminalShell reports the choice for nimbus dev's notice.
func TestTerminalShellHiddenByNamespacesFallsBack(t *testing.T) {
	private := t.TempDir() // under /tmp
	shell := filepath.Join(private, "myzsh")
	hostShell(t, shell)
	var log serverLog
	s, hs := newServer(t, log.option, func(o *localsandbox.Options) {
		o.Isolation = localsandbox.IsolationNamespaces
		o.TerminalShell = shell
	})
	if !s.Isolation().Namespaces() {
		t.Fatal("not in namespaces")
	}
	c := mustDialTerm(t, hs.URL, "job-hidden")
	c.quiet()
	c.send(frame.Input("echo \"zero=$0 shell=$SHELL\"\r"))
	out := c.until("zero=/bin/sh shell=/bin/sh\r\n")
	if !strings.Contains(out, "nimbus: the terminal shell myzsh is not used: it is under /tmp") || !strings.Contains(out, "this terminal runs /bin/sh") {
		t.Fatalf("no notice in the terminal: %q", out)
	}
	if strings.Contains(out, private) {
		t.Fatalf("the terminal names the host path %s: %q", private, out)
	}
	if got := s.TerminalShell(); got.Shell != localsandbox.DefaultShell || !strings.Contains(got.Reason, "under /tmp") {
		t.Fatalf("TerminalShell() = %+v", got)
	}
}

// TestTerminalShellWhoseInterpreterIsHiddenFallsBack: a shell at a path
// namespaces show, whose interpreter they hide (under /tmp), passes every
// check on the host and fails to start in the sandbox. That attach gets
// the command shell (not Init failed), the server's log says why once,
// and later terminals do not try it again.
func TestTerminalShellWhoseInterpreterIsHiddenFallsBack(t *testing.T) {
	interp := filepath.Join(t.TempDir(), "interp") // under /tmp
	if err := os.Symlink("/bin/sh", interp); err != nil {
		t.Fatal(err)
	}
	d, err := os.MkdirTemp("/var/tmp", "nimbus-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	shell := filepath.Join(d, "myfish")
	if err := os.WriteFile(shell, []byte("#!"+interp+"\nexec /bin/sh \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(shell, "-c", "echo host-ok").CombinedOutput(); err != nil || string(out) != "host-ok\n" {
		t.Fatalf("the shell does not run on the host: %q %v", out, err)
	}
	var log serverLog
	s, hs := newServer(t, log.option, func(o *localsandbox.Options) {
		o.Isolation = localsandbox.IsolationNamespaces
		o.TerminalShell = shell
	})
	if got := s.TerminalShell(); got.Shell != shell || got.Reason != "" {
		t.Fatalf("before any terminal, TerminalShell() = %+v", got)
	}
	for _, id := range []string{"job-a", "job-b"} {
		c := mustDialTerm(t, hs.URL, id)
		c.quiet()
		c.send(frame.Input("echo \"zero=$0\"\r"))
		out := c.until("zero=/bin/sh\r\n")
		if !strings.Contains(out, "nimbus: the terminal shell myfish is not used: it could not start") || strings.Contains(out, d) {
			t.Fatalf("%s: notice %q", id, out)
		}
	}
	if got := s.TerminalShell(); got.Shell != localsandbox.DefaultShell || got.Reason == "" {
		t.Fatalf("after the failure, TerminalShell() = %+v", got)
	}
	if got := log.String(); strings.Count(got, shell) != 1 || !strings.Contains(got, "no such file or directory") {
		t.Fatalf("the server's log, once with the path %s: %q", shell, got)
	}
}

// TestTerminalShellBusyIsNotGivenUp: a shell that fails to start for a
// reason that is not the shell's (here ETXTBSY: the file is open for
// writing, as while a package manager updates it; EAGAIN, EMFILE and
// ENOMEM of a busy host alike) fails that attach with the errno. It was
// taken for a shell the sandbox cannot run: the attach got /bin/sh, and
// so did every later terminal, after the host was fine again.
func TestTerminalShellBusyIsNotGivenUp(t *testing.T) {
	for name, iso := range map[string]localsandbox.Isolation{"namespaces": localsandbox.IsolationNamespaces, "host-paths": localsandbox.IsolationHostPaths} {
		t.Run(name, func(t *testing.T) {
			sh, err := filepath.EvalSymlinks("/bin/sh")
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(sh)
			if err != nil {
				t.Fatal(err)
			}
			d, err := os.MkdirTemp("/var/tmp", "nimbus-test-") // seen in namespaces
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.RemoveAll(d) })
			shell := filepath.Join(d, "mysh")
			if err := os.WriteFile(shell, b, 0o755); err != nil {
				t.Fatal(err)
			}
			var log serverLog
			s, hs := newServer(t, log.option, func(o *localsandbox.Options) {
				o.Isolation = iso
				o.TerminalShell = shell
			})
			w, err := os.OpenFile(shell, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			const busy = "job-busy"
			c, resp, err := dialTerm(t, hs.URL, busy, mint(t, busy, token.ScopeSessionAttach))
			if err == nil {
				c.quiet()
				c.send(frame.Input("echo \"zero=$0\"\r"))
				t.Fatalf("the terminal attached while its shell was busy: %q", c.until("zero="))
			}
			if got := status(resp); !strings.Contains(got, "Init failed: fork/exec mysh: text file busy") || strings.Contains(got, d) {
				t.Fatalf("answer %q: want Init failed with the errno, without the host path %s", got, d)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := s.TerminalShell(); got.Shell != shell || got.Reason != "" {
				t.Fatalf("after a busy shell, TerminalShell() = %+v", got)
			}
			c = mustDialTerm(t, hs.URL, "job-free")
			c.quiet()
			c.send(frame.Input("echo \"zero=$0=end\"\r"))
			if out := c.until("=end\r\n"); !strings.Contains(out, "zero="+shell+"=end") || strings.Contains(out, "nimbus: the terminal shell") {
				t.Fatalf("after the shell was free again: %q, want $0 %s and no notice", out, shell)
			}
		})
	}
}
