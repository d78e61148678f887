package cmd_test

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// underNoMountNamespaces runs the nimbus of this test binary with args in
// a user namespace where mount namespaces are forbidden
// (user.max_mnt_namespaces = 0): a machine where nimbus dev cannot use
// namespaces although the user-namespace sysctls allow them.
func underNoMountNamespaces(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	bin := t.TempDir()
	if err := os.Symlink(os.Args[0], filepath.Join(bin, "nimbus")); err != nil {
		t.Fatal(err)
	}
	c := exec.Command("/bin/sh", append([]string{"-c", `echo 0 > /proc/sys/user/max_mnt_namespaces && exec "$0" "$@"`, filepath.Join(bin, "nimbus")}, args...)...)
	c.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NIMBUS_DEV_DATA=" + t.TempDir(), "NO_COLOR=1"}
	c.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	return c
}

// TestDevWithoutNamespaces: where namespaces cannot be set up, nimbus dev
// says so once on its banner, with the reason, and --isolation namespaces
// refuses to start.
func TestDevWithoutNamespaces(t *testing.T) {
	var stderr bytes.Buffer
	c := underNoMountNamespaces(t, "dev", "--addr", "127.0.0.1:0", "--isolation", "namespaces")
	c.Stderr = &stderr
	err := c.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 69 || !strings.Contains(stderr.String(), `"code":"E_DEV_ISOLATION"`) ||
		!strings.Contains(stderr.String(), "no space left on device") {
		t.Fatalf("%v\n%s", err, stderr.String())
	}

	c = underNoMountNamespaces(t, "dev", "--addr", "127.0.0.1:0")
	pr, err := c.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	banner := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Ctrl-C to stop") {
				break
			}
		}
		banner <- b.String()
		for sc.Scan() {
		}
	}()
	var got string
	select {
	case got = <-banner:
	case <-time.After(20 * time.Second):
		_ = c.Process.Kill()
		t.Fatal("no banner")
	}
	_ = c.Process.Signal(os.Interrupt)
	if err := c.Wait(); err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	if !strings.Contains(got, "commands see this machine's paths (fork/exec /proc/self/exe: no space left on device)") ||
		strings.Contains(got, "each sandbox's own") {
		t.Fatalf("banner:\n%s", got)
	}
}
