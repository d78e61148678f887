package initcmd_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/nimbus-sh/nimbus/cmd"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"nimbus": func() { os.Exit(cmd.Main()) }})
}

// TestScripts drives the real nimbus binary (this test binary re-executed as
// `nimbus`) through the scripts in testdata/script.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			// A hermetic git: no user or system config, a fixed identity.
			for k, v := range map[string]string{
				"GIT_CONFIG_GLOBAL": os.DevNull, "GIT_CONFIG_NOSYSTEM": "1",
				"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
				"GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
			} {
				e.Setenv(k, v)
			}
			// Main puts the directory holding the `nimbus` command first
			// on PATH; scripts use it to run nimbus on a PATH without git or npm.
			bin, _, _ := strings.Cut(e.Getenv("PATH"), string(os.PathListSeparator))
			e.Setenv("NIMBUS_BIN_DIR", bin)
			// The fake tools' grandchildren run `sleep $SLEEP_MARKER`, so
			// `gone` finds them, and only them, on the machine.
			e.Setenv("SLEEP_MARKER", processMarker())
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":     cmdExits,
			"tree":      cmdTree,
			"immutable": cmdImmutable,
			"signal":    cmdSignal,
			"gone":      cmdGone,
		},
	})
}

// cmdExits runs a command and checks its exit code:
//
//	exits 73 nimbus init proj
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit code %d, want %d", got, want)
	}
}

// cmdTree prints every entry under a directory with its mode and a digest
// of its content, so `tree dir > before` ... `cmp` proves nothing changed.
func cmdTree(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: tree DIR")
	}
	root := ts.MkAbs(args[0])
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %s", info.Mode(), filepath.ToSlash(rel))
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %x", sha256.Sum256(data))
		}
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		ts.Fatalf("tree: %v", err)
	}
	fmt.Fprint(ts.Stdout(), b.String())
}

// cmdImmutable makes a directory unwritable until the script ends, so a
// write inside it fails for real in the middle of an apply. Root ignores
// permission bits, so as root the directory is made immutable (chattr +i);
// other users get a read-only mode, which stops them just as well.
func cmdImmutable(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: immutable DIR")
	}
	dir := ts.MkAbs(args[0])
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o555); err != nil {
			ts.Fatalf("chmod %s: %v", dir, err)
		}
		ts.Defer(func() { os.Chmod(dir, 0o755) })
		return
	}
	if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
		ts.Fatalf("chattr +i %s: %v\n%s", dir, err, out)
	}
	ts.Defer(func() {
		if out, err := exec.Command("chattr", "-i", dir).CombinedOutput(); err != nil {
			ts.Logf("chattr -i %s: %v\n%s", dir, err, out)
		}
	})
}

// cmdSignal runs a program until FILE appears, then sends it a signal and
// checks its exit code; its output becomes the script's stdout and stderr:
//
//	signal INT|TERM|HUP FILE CODE PROGRAM ARGS...
//
// FILE is made by the program (a fake tool it started, say), so the signal
// arrives while it is in the step under test, not before.
func cmdSignal(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 4 {
		ts.Fatalf("usage: signal INT|TERM|HUP FILE CODE PROGRAM ARGS...")
	}
	sig := map[string]syscall.Signal{"INT": syscall.SIGINT, "TERM": syscall.SIGTERM, "HUP": syscall.SIGHUP}[args[0]]
	if sig == 0 {
		ts.Fatalf("signal: unknown signal %q", args[0])
	}
	want, err := strconv.Atoi(args[2])
	ts.Check(err)
	path := ""
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		if p := filepath.Join(dir, args[3]); fileExists(p) {
			path = p
			break
		}
	}
	if path == "" {
		ts.Fatalf("%s not found on the script's PATH", args[3])
	}
	c := exec.Command(path, args[4:]...)
	c.Dir = ts.MkAbs(".")
	c.Env = []string{"PATH=" + ts.Getenv("PATH"), "HOME=" + ts.Getenv("HOME"), "SLEEP_MARKER=" + ts.Getenv("SLEEP_MARKER")}
	c.Stdout, c.Stderr = ts.Stdout(), ts.Stderr()
	// A tool left running after nimbus exited holds these pipes open:
	// fail (Wait's error) rather than wait for it until the test times out.
	c.WaitDelay = 30 * time.Second
	ts.Check(c.Start())
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	file := ts.MkAbs(args[1])
	deadline := time.Now().Add(30 * time.Second)
	for !fileExists(file) {
		select {
		case err := <-done:
			ts.Fatalf("%s ended before %s appeared: %v", args[3], args[1], err)
		default:
		}
		if time.Now().After(deadline) {
			c.Process.Kill()
			<-done
			ts.Fatalf("%s did not appear within 30s", args[1])
		}
		time.Sleep(10 * time.Millisecond)
	}
	ts.Check(c.Process.Signal(sig))
	got := 0
	var ee *exec.ExitError
	if err := <-done; errors.As(err, &ee) {
		got = ee.ExitCode()
	} else {
		ts.Check(err)
	}
	if got != want {
		ts.Fatalf("%s exited %d after SIG%s, want %d", args[3], got, args[0], want)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
