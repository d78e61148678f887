//go:build unix

package localdev_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"testing"

	"github.com/nimbus-sh/nimbus/cmd/internal/localdev"
	"github.com/nimbus-sh/nimbus/internal/loadtest"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// requestStack is the stack a connection's goroutine may grow to while it
// serves the hot ops. net/http serves each connection on one goroutine,
// which keeps the stack its deepest request needed (a collection halves it
// only once less than a quarter is in use): one byte over 8 KiB makes it
// 16 KiB, 2 MiB more at 256 clients. Writing an answer's header takes
// net/http about 4.5 KiB of stack (a 3.2 KiB frame, then sorting the
// header), below the 1.4 KiB its connection loop holds, which leaves
// nimbus's handlers about 2 KiB. A -race build (CI runs one) checks
// every unsafe.Pointer conversion and enters the race runtime in each
// function, which takes the client's dial past 8 KiB on its own: there the
// limit is raceStack, the release build's doubled (stack_race_test.go).
const requestStack = (8 << 10) * raceStack

// TestRequestStackFitsEightKiB: ready, exec, execStream and a 4 KiB
// write+read, each on a sandbox already in use and on a new one, served as
// `nimbus dev` serves them, run on a connection goroutine of at most
// requestStack bytes. The requests run in a child process (this test
// binary again) with debug.SetMaxStack(requestStack): a goroutine that
// needs more ends it with "goroutine stack exceeds" and the stack that did.
func TestRequestStackFitsEightKiB(t *testing.T) {
	if os.Getenv("NIMBUS_TEST_STACK_CHILD") == "1" {
		requestsUnderMaxStack(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRequestStackFitsEightKiB$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "NIMBUS_TEST_STACK_CHILD=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("the requests under a %d-byte stack limit failed (%v):\n%s", requestStack, err, out.Bytes()[:min(out.Len(), 8000)])
	}
}

func requestsUnderMaxStack(t *testing.T) {
	addr := devServer(t, localdev.ServeOptions{Procs: func(int) {}})
	tok := devToken(t, token.ScopeSandboxUse)
	ctx := context.Background()
	for i, tc := range []struct {
		name string
		op   func(tg *loadtest.Target, ids []string) loadtest.Op
	}{
		{"ready", func(tg *loadtest.Target, ids []string) loadtest.Op { return tg.ReadyOp(ids) }},
		{"exec", func(tg *loadtest.Target, ids []string) loadtest.Op { return tg.ExecOp(ids, "true") }},
		{"execStream", func(tg *loadtest.Target, ids []string) loadtest.Op { return tg.ExecStreamOp(ids, "true") }},
		{"write+read", func(tg *loadtest.Target, ids []string) loadtest.Op { return tg.WriteReadOp(ids, 4096) }},
	} {
		ids := loadtest.IDs("stack-"+strconv.Itoa(i), 2) // the first in use, the second new
		warm := &loadtest.Target{Endpoint: "http://" + addr, Token: tok, Client: loadtest.NewClient(1)}
		if err := tc.op(warm, ids)(ctx, 0); err != nil {
			t.Fatal(err)
		}
		warm.Client.CloseIdleConnections()
		// A new connection, so a new goroutine whose stack has not grown.
		tg := &loadtest.Target{Endpoint: warm.Endpoint, Token: tok, Client: loadtest.NewClient(1)}
		op := tc.op(tg, ids)
		old := debug.SetMaxStack(requestStack)
		for _, w := range []int{0, 1, 0} {
			if err := op(ctx, w); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
		}
		debug.SetMaxStack(old)
		tg.Client.CloseIdleConnections()
	}
}
