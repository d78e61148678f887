//go:build unix

package cmd_test

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSignalsEndLongCommandsGracefully sends real signals to the real
// binary: a command that can take long watches for them (installed only
// around it), cancels its work and exits 128+N as a shell reports the
// signal (130 for SIGINT, 143 for SIGTERM); a quick command does not
// watch, and the signal ends the process as it ends any program.
func TestSignalsEndLongCommandsGracefully(t *testing.T) {
	bin, err := exec.LookPath("nimbus")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + work, "NIMBUS_DEV_DATA=" + filepath.Join(work, "dev")}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		c := exec.Command(bin, "sandbox", "exec", "--local", "demo", "--", "echo started; sleep 30; echo never")
		c.Env, c.Dir = env, work
		stdout, _ := c.StdoutPipe()
		var stderr strings.Builder
		c.Stderr = &stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		if line != "started\n" {
			c.Process.Kill()
			t.Fatalf("%v: first line %q, stderr %s", sig, line, stderr.String())
		}
		start := time.Now()
		c.Process.Signal(sig)
		rest, _ := io.ReadAll(stdout)
		err := c.Wait()
		var ee *exec.ExitError
		want := 128 + int(sig)
		if !errors.As(err, &ee) || ee.ExitCode() != want || strings.Contains(string(rest), "never") {
			t.Errorf("%v: %v, rest %q, stderr %s; want exit %d", sig, err, rest, stderr.String(), want)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%v: took %v to stop", sig, d)
		}
	}

	// token verify waiting on a stdin that never ends: no handler, the
	// signal ends the process.
	c := exec.Command(bin, "token", "verify")
	c.Env = append(env, "JWT_SECRET=0123456789abcdef0123456789abcdef")
	in, _ := c.StdinPipe()
	defer in.Close()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	// Whenever it arrives (before or after the runtime starts), nothing
	// catches it.
	c.Process.Signal(syscall.SIGINT)
	err = c.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGINT {
		t.Errorf("quick command: %v, want death by SIGINT", err)
	}
}
