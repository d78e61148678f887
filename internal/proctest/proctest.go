//go:build unix

// Package proctest finds the processes a test started on this machine by
// a marker argument, whatever pid namespace they run in, and waits for
// them to start or end: tests of process lifetimes use it.
package proctest

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

var seq atomic.Int64

// Marker returns a sleep duration ("3600.<pid><n>") that no other process
// on the machine has as an argument: run `sleep MARKER`, then find it with
// WithArg.
func Marker() string { return fmt.Sprintf("3600.%d%03d", os.Getpid(), seq.Add(1)) }

// Bound is how long WaitRunning and WaitGone wait: generous, for a loaded
// machine.
const Bound = 20 * time.Second

// WaitFor polls cond until it holds, failing the test after Bound.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitRunning waits until a process with each marker runs.
func WaitRunning(t testing.TB, markers ...string) {
	t.Helper()
	for _, m := range markers {
		WaitFor(t, "a process with argument "+m+" to start", func() bool { return len(WithArg(m)) > 0 })
	}
}

// WaitGone waits until no process with any of the markers is left.
func WaitGone(t testing.TB, markers ...string) {
	t.Helper()
	for _, m := range markers {
		WaitFor(t, "the processes with argument "+m+" to end", func() bool { return len(WithArg(m)) == 0 })
	}
}
