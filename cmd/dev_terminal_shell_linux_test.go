package cmd_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/token"
)

// TestDevTerminalShellHiddenByNamespaces: nimbus dev gives session
// terminals the operator's $SHELL; in namespaces one under /tmp or
// /home/user (the sandbox's own there) never started, and every attach
// failed with "Init failed: fork/exec …". The terminal runs /bin/sh instead and works, nimbus dev
// says so once on stderr with the path, and the terminal's first line
// says so without it.
func TestDevTerminalShellHiddenByNamespaces(t *testing.T) {
	private := t.TempDir() // under /tmp
	shell := filepath.Join(private, "zsh")
	if err := os.WriteFile(shell, []byte("#!/bin/sh\nexec /bin/sh \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(shell, "-c", "echo host-ok").CombinedOutput(); err != nil || string(out) != "host-ok\n" {
		t.Fatalf("the shell does not run on the host: %q %v", out, err)
	}
	d := startDevServer(t, devOptions{Isolation: "namespaces", Env: []string{"SHELL=" + shell}})
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(d.Stderr.String(), "Ctrl-C to stop") {
		if time.Now().After(deadline) {
			t.Fatalf("no banner:\n%s", d.Stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	c := exec.Command(d.Nimbus, "session", "attach", "demo")
	c.Args[0] = "nimbus"
	c.Env = devEnv(t, d.URL, "demo", token.ScopeSessionAttach)
	c.Stdin = strings.NewReader("echo \"zero=$0 shell=$SHELL\"\n")
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("attach: %v\nstdout %q\nstderr %q\nserver %s", err, stdout.String(), stderr.String(), d.Stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "zero=/bin/sh shell=/bin/sh") {
		t.Fatalf("the terminal does not run /bin/sh: stdout %q\nstderr %q", out, stderr.String())
	}
	if !strings.Contains(out, "nimbus: the terminal shell zsh is not used: it is under /tmp") || strings.Contains(out, private) {
		t.Fatalf("the terminal's notice: %q (without the host path %s)", out, private)
	}

	if err := d.Stop(); err != nil {
		t.Fatalf("%v\n%s", err, d.Stderr.String())
	}
	want := "session terminals run /bin/sh, not $SHELL " + shell + ": it is under /tmp, which commands in namespaces see as the sandbox's own"
	if got := d.Stderr.String(); strings.Count(got, want) != 1 || strings.Count(got, "session terminals") != 1 {
		t.Fatalf("nimbus dev's stderr, once %q:\n%s", want, got)
	}
}
