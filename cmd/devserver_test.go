//go:build unix

package cmd_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
)

// devSecret is the JWT secret of every server startDevServer starts.
const devSecret = "dev-conformance-secret-0123456789abcdef"

// devOptions says what differs between the `nimbus dev` servers of the
// tests; the zero value is the real command of this test binary with a
// clean environment.
type devOptions struct {
	// InProcess serves the local backend from this test process (a
	// localsandbox.Server behind httptest) instead of running the
	// command: for backend options the command has no flag for (Backend).
	// Bin, Flags, Files, Isolation and Env do not apply.
	InProcess bool
	// Backend adjusts the in-process backend's options.
	Backend func(*localsandbox.Options)

	// Bin is the nimbus binary to run; "" is this test binary, installed
	// on PATH as nimbus by TestMain. A built release binary measures
	// what users run (the load benchmarks).
	Bin string
	// Isolation is the --isolation value; "" leaves the default.
	Isolation string
	// Flags are more flags of nimbus dev.
	Flags []string
	// Files are descriptors the server inherits (Files[i] is its
	// descriptor 3+i), as from a shell or a CI runner.
	Files []*os.File
	// Env adds to the server's environment (PATH, a fresh HOME, LANG=C,
	// NO_COLOR=1 and JWT_SECRET=devSecret).
	Env []string
	// Wrap, when set, changes how the command runs (under a shell in
	// another namespace, say) before it starts.
	Wrap func(*exec.Cmd)
}

// devServer is a running `nimbus dev` (or its in-process backend).
type devServer struct {
	// URL is the endpoint, http://127.0.0.1:PORT.
	URL string
	// Addr is URL's host:port.
	Addr string
	// Nimbus is the nimbus binary clients run: the test binary installed
	// as nimbus (what Bin runs too unless set).
	Nimbus string
	// Data is the server's data directory.
	Data string
	// Stderr is what the server wrote on stderr so far (empty in
	// process).
	Stderr *lockedBuffer
	// cmd is the server process; nil in process.
	cmd *exec.Cmd
	// stop interrupts the process and returns how it exited.
	stop func() error
}

// Stop stops the server before the test ends: a process is interrupted
// as Ctrl-C does and its exit error returned (nil for exit 0), and the
// test fails if it does not stop within a bound.
func (d *devServer) Stop() error { return d.stop() }

// startDevServer starts a server on a free loopback port and returns once
// it accepts connections. It is stopped when the test ends: the command is
// interrupted as Ctrl-C does and must stop within a bound, else the test
// fails.
func startDevServer(tb testing.TB, o devOptions) *devServer {
	tb.Helper()
	nimbus, err := exec.LookPath("nimbus")
	if err != nil {
		tb.Fatal(err)
	}
	d := &devServer{Nimbus: nimbus, Data: tb.TempDir(), Stderr: &lockedBuffer{}}
	if o.InProcess {
		opts := localsandbox.Options{DataDir: d.Data, Secret: devSecret, HostEnv: []string{"PATH=" + os.Getenv("PATH")}}
		if o.Backend != nil {
			o.Backend(&opts)
		}
		srv, err := localsandbox.New(opts)
		if err != nil {
			tb.Fatal(err)
		}
		hs := httptest.NewServer(srv)
		var once sync.Once
		d.stop = func() error {
			once.Do(func() {
				hs.Close()
				srv.Close()
			})
			return nil
		}
		tb.Cleanup(func() { _ = d.stop() })
		d.URL = hs.URL
	} else {
		bin := o.Bin
		if bin == "" {
			bin = nimbus
		}
		args := []string{"nimbus", "dev", "--addr", "127.0.0.1:0", "--data", d.Data}
		if o.Isolation != "" {
			args = append(args, "--isolation", o.Isolation)
		}
		d.cmd = &exec.Cmd{Path: bin, Args: append(args, o.Flags...), ExtraFiles: o.Files}
		d.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + tb.TempDir(), "LANG=C", "NO_COLOR=1", "JWT_SECRET=" + devSecret}, o.Env...)
		if o.Wrap != nil {
			o.Wrap(d.cmd)
		}
		d.URL, d.stop = startServer(tb, d.cmd, d.Stderr)
		if !strings.HasPrefix(d.URL, "http://127.0.0.1:") {
			tb.Fatalf("nimbus dev printed %q\n%s", d.URL, d.Stderr.String())
		}
	}
	u, err := url.Parse(d.URL)
	if err != nil {
		tb.Fatal(err)
	}
	d.Addr = u.Host
	return d
}

// startServer starts a server command that prints its URL as the first
// line of stdout once it listens, and returns that line and a function
// that stops it; stderr collects the command's stderr. Stopping interrupts
// the command (SIGINT, as Ctrl-C does) and returns its exit error; the
// test fails if it does not stop within a bound. The end of the test stops
// it if nothing did.
func startServer(tb testing.TB, cmd *exec.Cmd, stderr *lockedBuffer) (string, func() error) {
	tb.Helper()
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(done)
	}()
	name := filepath.Base(cmd.Args[0]) + " " + strings.Join(cmd.Args[1:], " ")
	var once sync.Once
	stop := func() error {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				tb.Errorf("%s did not stop on SIGINT:\n%s", name, stderr.String())
			}
		})
		return waitErr
	}
	tb.Cleanup(func() { _ = stop() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case l, ok := <-lines:
		if !ok {
			tb.Fatalf("%s printed nothing\n%s", name, stderr.String())
		}
		return l, stop
	case <-time.After(30 * time.Second):
		tb.Fatalf("%s did not start:\n%s", name, stderr.String())
	}
	return "", stop
}

// lockedBuffer is a bytes.Buffer safe to read while a process writes to
// it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
