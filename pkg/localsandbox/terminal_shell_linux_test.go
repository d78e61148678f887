package localsandbox_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/terminal/frame"
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
