//go:build unix

package localsandbox

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox/internal/sandboxinit"
)

// TestTerminalChdirFailureKeepsTheShell: where commands start without an
// init (Direct mode: a program that does not run the sandbox init, or a
// system without Linux's inits), a terminal whose working directory could
// not be entered failed as "fork/exec <shell>: no such file or directory";
// that read as a shell the sandbox cannot run, so this terminal and every
// later one switched to the command shell. The attach now fails with the
// chdir and the sandbox path, and the configured shell stays. Here the
// sandbox's host directory moved away under its open root (root enters
// any directory that is there).
func TestTerminalChdirFailureKeepsTheShell(t *testing.T) {
	data := t.TempDir()
	s, err := New(Options{DataDir: data, Isolation: IsolationHostPaths, TerminalShell: "/bin/bash"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	s.iso.mu.Lock()
	s.iso.mode = sandboxinit.Direct
	s.iso.mu.Unlock()
	h, aerr := s.enter(context.Background(), "test:job-moved", "job-moved")
	if aerr != nil {
		t.Fatal(aerr.Message)
	}
	defer h.leave()
	if e := h.sb.ensureDir("/home/user"); e != nil {
		t.Fatal(e.Message)
	}
	if err := os.Rename(h.sb.dir, h.sb.dir+".moved"); err != nil {
		t.Fatal(err)
	}
	term, err := h.sb.attachTerminal()
	if err == nil {
		term.close(1000, "test", true)
		t.Fatal("the terminal started in a directory that is gone")
	}
	got := h.sb.startErrText("terminal", err)
	if got != "chdir /home/user: no such file or directory" || strings.Contains(got, data) {
		t.Fatalf("the answer would say %q (error %v), want the chdir and the sandbox path", got, err)
	}
	if st := s.TerminalShell(); st.Shell != "/bin/bash" || st.Reason != "" {
		t.Fatalf("after a chdir failure, TerminalShell() = %+v; want the configured shell kept", st)
	}
}
