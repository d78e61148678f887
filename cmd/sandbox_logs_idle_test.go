//go:build unix

package cmd_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
)

// TestLogsFollowOfQuietProcessPollsLess: `nimbus sandbox logs -f ID PID`
// of a process that stays quiet for 3 seconds polled processLogs every
// --interval all along (about 30 requests here at 100ms; for as long as a
// process runs, each a request the Worker's platform bills); it now waits
// longer after each poll that brings nothing (up to 2s), as attach does
// once its input ended, so the same 3 seconds take a handful of requests.
// The output written after the quiet time is complete, on its streams,
// and nimbus exits with the process's code. The window is the process's
// own run against the local backend, whose request log counts what the
// CLI sent: the count can only be lower on a slow machine.
func TestLogsFollowOfQuietProcessPollsLess(t *testing.T) {
	srv := sandboxtest.New(sandboxtest.Options{})
	t.Cleanup(srv.Close)
	tok := srv.Token(scriptIDs["use"])
	c, err := sc.New(sc.Options{Endpoint: srv.URL, Tokens: sc.StaticToken(tok)})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.Sandbox("job-1", sc.SandboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := sb.StartProcess(ctx, "echo start; sleep 3; echo end; echo late >&2; exit 5", sc.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}

	bin, err := exec.LookPath("nimbus")
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, "sandbox", "logs", "-f", "--interval", "100ms", "job-1", strconv.FormatInt(p.PID, 10))
	var stdout, stderr bytes.Buffer
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"NIMBUS_ENDPOINT=" + srv.URL, "NIMBUS_TOKEN=" + tok}
	cmd.Dir, cmd.Stdout, cmd.Stderr = home, &stdout, &stderr
	srv.ResetRequests()
	err = cmd.Run()
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != 5 || stdout.String() != "start\nend\n" || stderr.String() != "late\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 5, both lines, and late on stderr", code, stdout.String(), stderr.String())
	}
	ops := srv.Ops()
	polls := 0
	for _, op := range ops {
		if op == "processLogs" {
			polls++
		}
	}
	if len(ops) > 12 {
		t.Fatalf("%d requests (%d polls of processLogs) over the 3s of a quiet process, want at most 12", len(ops), polls)
	}
	t.Logf("%d requests, %d polls of processLogs", len(ops), polls)
}
