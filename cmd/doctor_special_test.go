//go:build unix

package cmd_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// specialBound bounds a command that must not block: without the rule of
// package regularfile it blocks for ever, and the test fails at the bound.
const specialBound = 20 * time.Second

// runBounded runs the nimbus binary in dir with a clean environment and
// returns its exit code, stdout and stderr; it fails the test if the
// command is still running after specialBound.
func runBounded(t *testing.T, dir string, env []string, args ...string) (int, string, string) {
	t.Helper()
	bin, err := exec.LookPath("nimbus")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), specialBound)
	defer cancel()
	c := exec.CommandContext(ctx, bin, args...)
	c.Dir = dir
	c.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_CONFIG_HOME=" + filepath.Join(dir, ".config"), "NO_COLOR=1"}, env...)
	var stdout, stderr strings.Builder
	c.Stdout, c.Stderr = &stdout, &stderr
	err = c.Run()
	if ctx.Err() != nil {
		t.Fatalf("nimbus %s still running after %v (stdout %q, stderr %q)", strings.Join(args, " "), specialBound, stdout.String(), stderr.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

// special makes path something that is not a regular file to read, or a
// regular file too big to be a wrangler config.
func special(t *testing.T, kind, path string) {
	t.Helper()
	var err error
	switch kind {
	case "fifo":
		err = syscall.Mkfifo(path, 0o600)
	case "devzero":
		err = os.Symlink("/dev/zero", path)
	case "dir":
		err = os.Mkdir(path, 0o700)
	case "huge":
		var f *os.File
		if f, err = os.Create(path); err == nil {
			err = f.Truncate(2 << 20) // sparse: no disk used
			f.Close()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

var specialReasons = map[string]string{
	"fifo":    "a named pipe (FIFO), not a regular file",
	"devzero": "a character device, not a regular file",
	"dir":     "a directory, not a regular file",
	"huge":    "larger than 1 MiB",
}

// TestDoctorRefusesSpecialWranglerConfig: a wrangler.jsonc that is a
// named pipe (whose open blocked doctor for ever, and SIGTERM with it), a
// link to /dev/zero or a huge file fails the wrangler check at once,
// saying what the file is, instead of being read without bound.
func TestDoctorRefusesSpecialWranglerConfig(t *testing.T) {
	for kind, reason := range specialReasons {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			special(t, kind, filepath.Join(dir, "wrangler.jsonc"))
			code, stdout, stderr := runBounded(t, dir, nil, "doctor", "--json", "--no-version-check")
			var r struct {
				Checks []struct{ Name, Status, Detail, Hint string }
			}
			if err := json.Unmarshal([]byte(stdout), &r); err != nil || code != 1 {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
			for _, c := range r.Checks {
				if c.Name != "wrangler" {
					continue
				}
				if c.Status != "fail" || c.Detail != "cannot read wrangler.jsonc: "+reason || !strings.Contains(c.Hint, "regular") {
					t.Fatalf("wrangler check %+v", c)
				}
				return
			}
			t.Fatalf("no wrangler check in %s", stdout)
		})
	}
}

// TestSpecialFilesAreRefused: the other readers of a project or config
// file refuse what is not a regular file of a bounded size the same way,
// with an error that names the file and says what it is, instead of
// blocking on a named pipe or reading /dev/zero.
func TestSpecialFilesAreRefused(t *testing.T) {
	for kind, reason := range specialReasons {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			// The project's nimbus.yaml: every command reads it.
			special(t, kind, filepath.Join(dir, "nimbus.yaml"))
			code, _, stderr := runBounded(t, dir, nil, "sandbox", "ready", "job-1", "--json")
			hint := `"hint":"remove it or put a regular file there`
			if kind == "dir" {
				hint = `"hint":"move the directory out of the way`
			} else if kind == "huge" {
				hint = `"hint":"fix or remove the file`
			}
			if code != 78 || !strings.Contains(stderr, `"code":"E_CONFIG_INVALID"`) || !strings.Contains(stderr, reason) || !strings.Contains(stderr, hint) {
				t.Errorf("sandbox ready with nimbus.yaml %s: exit %d, stderr %s", kind, code, stderr)
			}
			code, stdout, stderr := runBounded(t, dir, nil, "doctor", "--json", "--no-version-check")
			if code != 1 || !strings.Contains(stdout, reason) {
				t.Errorf("doctor with nimbus.yaml %s: exit %d, stdout %s, stderr %s", kind, code, stdout, stderr)
			}
			os.Remove(filepath.Join(dir, "nimbus.yaml"))

			// A wrangler config named on the command line.
			special(t, kind, filepath.Join(dir, "w.jsonc"))
			code, _, stderr = runBounded(t, dir, []string{"CLOUDFLARE_API_TOKEN=x", "CLOUDFLARE_API_BASE_URL=http://127.0.0.1:9/"},
				"setup", "cloudflare", "--config", "w.jsonc", "--json")
			if code != 78 || !strings.Contains(stderr, "cannot read w.jsonc: "+reason) || !strings.Contains(stderr, `"hint":"only a regular file`) && !strings.Contains(stderr, `"hint":"a file this large`) {
				t.Errorf("setup cloudflare --config %s: exit %d, stderr %s", kind, code, stderr)
			}
		})
	}
}

// TestDoctorEndsOnSIGTERMDuringABlockedRead: SIGTERM ends doctor (exit
// 143) even while it is blocked in a read no context reaches: here a
// named pipe given as --token-file whose writer sends nothing (a pipe is
// a fair way to hand over a token, so it is read, as standard input is).
func TestDoctorEndsOnSIGTERMDuringABlockedRead(t *testing.T) {
	bin, err := exec.LookPath("nimbus")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fifo := filepath.Join(dir, "token")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), specialBound)
	defer cancel()
	c := exec.CommandContext(ctx, bin, "doctor", "--json", "--no-version-check", "--token-file", fifo)
	c.Dir = dir
	c.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_CONFIG_HOME=" + filepath.Join(dir, ".config")}
	var stderr strings.Builder
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	// The open for writing returns once doctor has opened the pipe to
	// read the token: it is then in its command, signals watched, and
	// blocks reading.
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	c.Process.Signal(syscall.SIGTERM)
	err = c.Wait()
	if ctx.Err() != nil {
		t.Fatalf("doctor still running %v after SIGTERM; stderr %q", specialBound, stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 143 || !strings.Contains(stderr.String(), `"code":"E_INTERRUPTED"`) {
		t.Fatalf("%v, stderr %q; want exit 143, E_INTERRUPTED", err, stderr.String())
	}
}
