//go:build unix

package localdev_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
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
		if frames := overflowFrames(out.String()); frames != "" {
			t.Fatalf("a goroutine needed more than the %d-byte stack limit: the frames below hold the stack it had (bytes each, deepest first); "+
				"after a toolchain bump, compare them with the last build that passed to see which grew:\n%s", requestStack, frames)
		}
		t.Fatalf("the requests under a %d-byte stack limit failed (%v):\n%s", requestStack, err, out.Bytes()[:min(out.Len(), 8000)])
	}
}

// overflowFrames reads, in a child's output, the goroutine that the
// runtime ended with "fatal error: stack overflow" and lists its frames
// with the bytes each takes (the fp and sp the runtime prints for each
// frame of a fatal error's traceback: fp-sp) and the total up to it, or
// returns "" when the output holds no overflow. Without it a failure
// showed only the 8 KiB the stack was capped at and thousands of lines of
// other goroutines, and not which of 30 frames had grown by a few bytes.
func overflowFrames(out string) string {
	before, after, ok := strings.Cut(out, "fatal error: stack overflow")
	if !ok {
		return ""
	}
	// The runtime's own words: the limit, and the stack's bounds (a stack
	// grows by doubling: the frames below did not fit in hi-lo bytes, and
	// twice that is over the limit).
	var why string
	if k := strings.LastIndex(before, "runtime: goroutine stack exceeds"); k >= 0 {
		why = strings.TrimSpace(before[k:]) + "\n"
	}
	// The overflowing goroutine is the one running, after the runtime's
	// own (g0) stack.
	i := strings.Index(after, "[running]:\n")
	if i < 0 {
		return ""
	}
	head := after[strings.LastIndex(after[:i], "\ngoroutine ")+1 : i+len("[running]:")]
	block, _, _ := strings.Cut(after[i+len("[running]:\n"):], "\n\n")
	lines := strings.Split(block, "\n")
	type frame struct {
		fn, at string
		size   int64 // -1 when inlined into the frame below it
	}
	var frames []frame
	for j := 0; j+1 < len(lines); j += 2 {
		fn, loc := lines[j], strings.TrimSpace(lines[j+1])
		if strings.HasPrefix(fn, "created by ") {
			break
		}
		if k := strings.LastIndex(fn, "("); k > 0 {
			fn = fn[:k]
		}
		f := frame{fn: fn, size: -1}
		fields := strings.Fields(loc)
		if len(fields) > 0 {
			f.at = filepath.Base(fields[0])
		}
		var fp, sp int64 = -1, -1
		for _, w := range fields {
			if v, ok := strings.CutPrefix(w, "fp=0x"); ok {
				fp, _ = strconv.ParseInt(v, 16, 64)
			} else if v, ok := strings.CutPrefix(w, "sp=0x"); ok {
				sp, _ = strconv.ParseInt(v, 16, 64)
			}
		}
		if fp >= 0 && sp >= 0 {
			f.size = fp - sp
		}
		frames = append(frames, f)
	}
	if len(frames) == 0 {
		return ""
	}
	var total int64
	for _, f := range frames {
		total += max(f.size, 0)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s%s\n%7s %7s  %s\n", why, head, "bytes", "to top", "function (file:line)")
	left := total
	for _, f := range frames {
		size := "inlined"
		if f.size >= 0 {
			size = strconv.FormatInt(f.size, 10)
		}
		fmt.Fprintf(&b, "%7s %7d  %s (%s)\n", size, left, f.fn, f.at)
		left -= max(f.size, 0)
	}
	fmt.Fprintf(&b, "%7d bytes in these frames, limit %d", total, requestStack)
	return b.String()
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
