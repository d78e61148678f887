//go:build linux

package localsandbox_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
)

// TestProbeShortageKeepsNamespaces: the isolation probe nimbus dev makes
// as it starts (a scratch sandbox's init set up once), cut short by the
// host running out of descriptors (the init's open of its directory
// fails with EMFILE), of threads (its Go runtime cannot make one: clone
// fails with EAGAIN) or of memory (it is SIGKILLed, as by the
// out-of-memory killer), does not give namespaces up: the server reports
// them unconfirmed and why, the first command, starved too, answers 503
// E_NIMBUS_DO_OVERLOADED with Retry-After (no host path, no init, zombie
// or descriptor left), and once the shortage ends commands run in
// namespaces (HOME is /home/user). On the old code the probe's shortage
// was taken for the kernel refusing namespaces, and the server ran every
// command with host paths for the rest of its life.
func TestProbeShortageKeepsNamespaces(t *testing.T) {
	s, err := localsandbox.New(localsandbox.Options{DataDir: t.TempDir(), Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	if iso := s.Isolation(); !iso.Namespaces() {
		t.Fatalf("isolation here is %+v: this test needs namespaces", iso)
	}
	_ = s.Close()
	for _, c := range []struct {
		name, marker, content, errno string
		kill                         bool // the test SIGKILLs the probe's init
	}{
		{"fds", initOutOfFDsMarker, "0", "too many open files", false},
		{"threads", initDiesMarker, "newosproc", "resource temporarily unavailable", false},
		{"oom-killed", initDiesMarker, "hold", "cannot allocate memory", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			sandboxHome(t, dir, "job")
			sbDir := filepath.Dir(filepath.Dir(sandboxHome(t, dir, "job")))
			// In the data directory, the marker starves the probe's init
			// only (initMarker); in the sandbox's, its commands' inits.
			markers := []string{filepath.Join(dir, c.marker), filepath.Join(sbDir, c.marker)}
			for _, m := range markers {
				if err := os.WriteFile(m, []byte(c.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			fifos := []string{filepath.Join(dir, initDiesMarker+".fifo"), filepath.Join(sbDir, initDiesMarker+".fifo")}
			killed := make(chan struct{})
			if c.kill {
				for _, f := range fifos {
					if err := unix.Mkfifo(f, 0o600); err != nil {
						t.Fatal(err)
					}
				}
				// The probe's init waits at its FIFO: killed there, as the
				// out-of-memory killer would.
				go func() {
					defer close(killed)
					killAtFIFO(t, fifos[0], dir)
				}()
			} else {
				close(killed)
			}
			logf, err := os.CreateTemp(t.TempDir(), "log")
			if err != nil {
				t.Fatal(err)
			}
			defer logf.Close()
			url, pid := childServerPid(t, dir, []string{childIsolationEnv + "=1"}, nil, logf)
			<-killed
			log, _ := os.ReadFile(logf.Name())
			want := "log: isolation {Mode:namespaces Reason: Unconfirmed:the host was out of resources (" + c.errno + ") when they were set up to check}\n"
			if !bytes.Contains(log, []byte(want)) {
				t.Fatalf("the server's isolation after a probe cut short by a shortage:\n%s\nwant the line %q", log, want)
			}
			if kids := childrenOf(t, pid); len(kids) != 0 {
				t.Errorf("the server's children after the probe: %v, want none (the probe's init reaped)", kids)
			}
			// The first commands, with the host still short, answer 503 and
			// keep namespaces for the next. Descriptors are counted after
			// the first: the server opens some for good on its first start.
			fds := -1
			for range 2 {
				done := make(chan struct{})
				go func() {
					defer close(done)
					if c.kill {
						killAtFIFO(t, fifos[1], dir)
					}
				}()
				st, h, body := rpcWithHeaders(t, url, "job", "exec", "echo started")
				<-done
				var f struct{ Error, Code string }
				_ = json.Unmarshal([]byte(body), &f)
				wantErr := "the local sandbox backend is out of resources (" + c.errno + "); retry shortly"
				if st != 503 || f.Code != "E_NIMBUS_DO_OVERLOADED" || f.Error != wantErr || h.Get("Retry-After") == "" || strings.Contains(body, dir) {
					t.Errorf("exec with the host still short: %d Retry-After %q %s, want 503 E_NIMBUS_DO_OVERLOADED %q with Retry-After", st, h.Get("Retry-After"), body, wantErr)
				}
				if kids := childrenOf(t, pid); len(kids) != 0 {
					t.Errorf("the server's children after the starved exec: %v, want none", kids)
				}
				if got := fdsOf(t, pid); fds < 0 {
					fds = got
				} else if got != fds {
					t.Errorf("the server holds %d descriptors after the second starved exec, %d after the first", got, fds)
				}
			}
			for _, m := range append(markers, fifos...) {
				_ = os.Remove(m)
			}
			st, h, out := rpcWithHeaders(t, url, "job", "exec", "echo $HOME")
			var r struct {
				Result struct {
					ExitCode int
					Stdout   string
				}
			}
			if err := json.Unmarshal([]byte(out), &r); err != nil || st != 200 || r.Result.ExitCode != 0 || r.Result.Stdout != "/home/user\n" {
				t.Fatalf("exec after the shortage: %d %v %s, want HOME /home/user (namespaces kept)", st, h, out)
			}
		})
	}
}

// killAtFIFO waits until an init of data directory dir opens fifo for
// writing (maybeKillInit's "hold"), and SIGKILLs the inits of dir.
func killAtFIFO(t *testing.T, fifo, dir string) {
	f, err := os.Open(fifo)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		args := strings.Split(string(b), "\x00")
		if len(args) >= 4 && args[0] == "nimbus-sandbox-init" && strings.HasPrefix(args[3], dir+"/") {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}
}
