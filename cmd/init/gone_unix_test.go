//go:build unix

package initcmd_test

import (
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/nimbus-sh/nimbus/internal/proctest"
)

// processMarker is the argument a script's fake tools give the
// grandchild they start (`sleep $SLEEP_MARKER &`), unique on the machine.
func processMarker() string { return proctest.Marker() }

// cmdGone asserts that no process with the argument MARKER is left (a
// zombie waiting for its reaper counts as gone): gone MARKER. A process
// killed just before nimbus exited may take a moment to end, so it waits
// up to proctest.Bound; one nimbus left running (a `sleep 3600`) fails.
func cmdGone(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: gone MARKER")
	}
	deadline := time.Now().Add(proctest.Bound)
	for {
		pids := proctest.WithArg(args[0])
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("processes %v with argument %s outlived nimbus", pids, args[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
