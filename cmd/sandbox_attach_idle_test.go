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
	"strings"
	"testing"
	"time"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
)

// TestAttachWithEndedInputPollsLess: `nimbus sandbox attach ID PID
// </dev/null` to a process that stays quiet for 3 seconds polled
// processLogs every 100ms all along (about 30 requests here, ten a second
// for as long as a process runs, about 1% of a CPU); once the end of its
// input is sent, it waits longer after each poll that brings nothing (up
// to 2s), so the same 3 seconds take a handful of requests. The output is
// complete and nimbus exits with the process's code. The window is the
// process's own run against the local backend, whose request log counts
// what the CLI sent: the count can only be lower on a slow machine.
func TestAttachWithEndedInputPollsLess(t *testing.T) {
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
	p, err := sb.StartProcess(ctx, "echo start; sleep 3; echo end; exit 5", sc.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}

	bin, err := exec.LookPath("nimbus")
	if err != nil {
		t.Fatal(err)
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, "sandbox", "attach", "job-1", strconv.FormatInt(p.PID, 10))
	var stdout, stderr bytes.Buffer
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"NIMBUS_ENDPOINT=" + srv.URL, "NIMBUS_TOKEN=" + tok}
	cmd.Dir, cmd.Stdin, cmd.Stdout, cmd.Stderr = home, null, &stdout, &stderr
	srv.ResetRequests()
	err = cmd.Run()
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != 5 || stdout.String() != "start\nend\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 5 and both lines", code, stdout.String(), stderr.String())
	}
	ops := srv.Ops()
	polls := 0
	for _, op := range ops {
		if op == "processLogs" {
			polls++
		}
	}
	if !strings.Contains(strings.Join(ops, " "), "endProcessInput") {
		t.Fatalf("the input's end was not sent: %q", ops)
	}
	if len(ops) > 15 {
		t.Fatalf("%d requests (%d polls of processLogs) over the 3s of a quiet process, want at most 15", len(ops), polls)
	}
	t.Logf("%d requests, %d polls of processLogs", len(ops), polls)
}
