package cmd_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// noMountNamespaces makes c (a nimbus command) run in a user namespace
// where mount namespaces are forbidden (user.max_mnt_namespaces = 0): a
// machine where nimbus dev cannot use namespaces although the
// user-namespace sysctls allow them.
func noMountNamespaces(c *exec.Cmd) {
	c.Args = append([]string{"/bin/sh", "-c", `echo 0 > /proc/sys/user/max_mnt_namespaces && exec "$0" "$@"`, c.Path}, c.Args[1:]...)
	c.Path = "/bin/sh"
	c.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
}

// TestDevWithoutNamespaces: where namespaces cannot be set up, nimbus dev
// says so once on its banner, with the reason, and --isolation namespaces
// refuses to start.
func TestDevWithoutNamespaces(t *testing.T) {
	nimbus, err := exec.LookPath("nimbus")
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	c := exec.Command(nimbus, "dev", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--isolation", "namespaces")
	c.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1"}
	c.Stderr = &stderr
	noMountNamespaces(c)
	err = c.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 69 || !strings.Contains(stderr.String(), `"code":"E_DEV_ISOLATION"`) ||
		!strings.Contains(stderr.String(), "no space left on device") {
		t.Fatalf("%v\n%s", err, stderr.String())
	}

	d := startDevServer(t, devOptions{Wrap: noMountNamespaces})
	// The URL comes first on stdout; the banner ends with the warning.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(d.Stderr.String(), "Ctrl-C to stop") {
		if time.Now().After(deadline) {
			t.Fatalf("no banner:\n%s", d.Stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("%v\n%s", err, d.Stderr.String())
	}
	got := d.Stderr.String()
	if !strings.Contains(got, "commands see this machine's paths (fork/exec /proc/self/exe: no space left on device)") ||
		strings.Contains(got, "each sandbox's own") {
		t.Fatalf("banner:\n%s", got)
	}
}
