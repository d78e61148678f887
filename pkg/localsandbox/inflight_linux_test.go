package localsandbox_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/internal/proctest"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// TestInFlightExecHoldsOneGoroutine pins what a running command costs the
// server in goroutines: the request's own, which waits for the command,
// pumps its output and notices its end, and no other (issue 19: at 256
// clients, an output pump per command was a sixth of the server's
// goroutines, and each goroutine's stack starts at the running average).
// The in-process transport serves each request on one goroutine and the
// streams are read from this one, so n commands in flight should add n.
func TestInFlightExecHoldsOneGoroutine(t *testing.T) {
	sb := inProcessBox(t)
	// One command first, so that what the server keeps for its life
	// (the init pool's timer, a first init) is in the baseline.
	run(t, sb, "true")
	const n = 16
	base := runtime.NumGoroutine()
	markers := make([]string, n)
	streams := make([]*sc.ExecStream, n)
	for i := range n {
		markers[i] = proctest.Marker()
		st, err := sb.ExecStream(context.Background(), "echo ready; exec sleep "+markers[i], sc.ExecOptions{})
		if err != nil {
			t.Fatal(err)
		}
		streams[i] = st
		if ch, err := st.Next(); err != nil || string(ch.Data) != "ready\n" {
			t.Fatalf("%q %v", ch.Data, err)
		}
	}
	got := runtime.NumGoroutine() - base
	for _, st := range streams {
		st.Close()
	}
	proctest.WaitGone(t, markers...)
	// A few goroutines may come and go meanwhile (an init's reaper): a
	// second goroutine per command would be n more.
	if got > n+n/4 {
		t.Fatalf("%d commands in flight hold %d goroutines (%.2f each); want 1 each, the request's", n, got, float64(got)/n)
	}
	t.Logf("%d commands in flight hold %d goroutines", n, got)
}

// TestExecStartsOneGoroutine: a command's whole round trip starts one
// goroutine, the in-process transport's for the request; the server
// starts none of its own per command (it started three: the pump and,
// once the command had ended, one to wait for Wait's copies).
func TestExecStartsOneGoroutine(t *testing.T) {
	sb := inProcessBox(t)
	run(t, sb, "true")
	created := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(created)
	before := created[0].Value.Uint64()
	const n = 20
	for range n {
		if _, err := sb.Run(context.Background(), "echo out; echo err >&2", sc.ExecOptions{}, io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	metrics.Read(created)
	// A timer of the server's may fire meanwhile: a second goroutine per
	// command would be n more.
	if got := created[0].Value.Uint64() - before; got > n+n/4 {
		t.Fatalf("%d commands started %d goroutines (%.2f each); want 1 each, the request's", n, got, float64(got)/n)
	}
}

// TestNamedShellExecStartsOneGoroutine: a named shell's call reads the
// state the shell reports (its cwd and environment) on the goroutine
// that pumps its output, and the state still carries from call to call.
func TestNamedShellExecStartsOneGoroutine(t *testing.T) {
	sb := inProcessBox(t, "s1")
	run(t, sb, "mkdir -p d && cd d && export N=0")
	created := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(created)
	before := created[0].Value.Uint64()
	const n = 20
	for range n {
		run(t, sb, "export N=$((N+1))")
	}
	metrics.Read(created)
	got := created[0].Value.Uint64() - before
	if out := run(t, sb, `echo "$N ${PWD##*/}"`); out != strconv.Itoa(n)+" d\n" {
		t.Fatalf("the named shell's state did not carry: %q, want %q", out, strconv.Itoa(n)+" d\n")
	}
	if got > n+n/4 {
		t.Fatalf("%d calls of a named shell started %d goroutines (%.2f each); want 1 each, the request's", n, got, float64(got)/n)
	}
}

// TestExecWithInputStartsOneGoroutine: input that fits in the pipe is
// written into it before the command starts, on the request's goroutine,
// instead of by a goroutine per command; input larger than the pipe
// still arrives whole, the rest copied as the command reads it.
func TestExecWithInputStartsOneGoroutine(t *testing.T) {
	sb := inProcessBox(t)
	run(t, sb, "true")
	created := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(created)
	before := created[0].Value.Uint64()
	const n = 20
	in := "line 1\nline 2\n"
	for range n {
		r, err := sb.Exec(ctx(t), "cat", sc.ExecOptions{Stdin: &in})
		if err != nil || r.Stdout != in {
			t.Fatalf("%+v %v, want stdout %q", r, err, in)
		}
	}
	metrics.Read(created)
	if got := created[0].Value.Uint64() - before; got > n+n/4 {
		t.Fatalf("%d commands with input started %d goroutines (%.2f each); want 1 each, the request's", n, got, float64(got)/n)
	}
	big := strings.Repeat("0123456789abcdef", 64<<10) // 1 MiB, more than a pipe holds
	sum := sha256.Sum256([]byte(big))
	want := hex.EncodeToString(sum[:]) + "  -\n"
	r, err := sb.Exec(ctx(t), "sha256sum", sc.ExecOptions{Stdin: &big})
	if err != nil || r.Stdout != want {
		t.Fatalf("%+v %v, want %q for the input", r, err, want)
	}
}

// inProcessBox returns a sandbox of a new server over the in-process
// transport, which serves each request on one goroutine and starts no
// other.
func inProcessBox(t *testing.T, shell ...string) *sc.Sandbox {
	t.Helper()
	o := sc.SandboxOptions{}
	if len(shell) > 0 {
		o.ShellID = shell[0]
	}
	_, sb := modeBoxWith(t, localsandbox.IsolationAuto, o)
	return sb
}
