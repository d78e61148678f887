//go:build !unix

package initcmd_test

import "github.com/rogpeppe/go-internal/testscript"

// processMarker: the scripts that start grandchildren use sh, so they run
// on Unix only.
func processMarker() string { return "3600" }

// cmdGone is Unix-only (proctest lists processes through /proc or ps).
func cmdGone(ts *testscript.TestScript, neg bool, args []string) {
	ts.Fatalf("gone: not supported on this system")
}
