package cmd_test

import (
	"context"
	"strconv"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/nimbus-sh/nimbus/cmd"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/iostreams"
)

// ttyCmd is a testscript command for a command's terminal view:
//
//	tty N nimbus ARGS...
//
// It runs nimbus with stdout and stderr marked as terminals, which a child
// process under test cannot have, and requires exit code N, as status
// does; what nimbus writes on each becomes the script's stdout and
// stderr. So it runs in the test process, as runTTY does: it sees the
// script's environment (NIMBUS_TEST_NOW_MS fixes its clock) and an empty
// stdin, but not $WORK as its directory, so it suits commands that take
// what they need as arguments (token inspect).
func ttyCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || args[1] != "nimbus" {
		ts.Fatalf("usage: tty N nimbus ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	ios, _, out, errOut := iostreams.Test()
	ios.SetStdoutTTY(true)
	ios.SetStderrTTY(true)
	f := cmdutil.New()
	f.IOStreams = ios
	f.Getenv = ts.Getenv
	if ms := ts.Getenv("NIMBUS_TEST_NOW_MS"); ms != "" {
		n, err := strconv.ParseInt(ms, 10, 64)
		ts.Check(err)
		f.Now = func() time.Time { return time.UnixMilli(n) }
	}
	got := cmd.Run(context.Background(), f, args[2:])
	_, err = ts.Stdout().Write(out.Bytes())
	ts.Check(err)
	_, err = ts.Stderr().Write(errOut.Bytes())
	ts.Check(err)
	if got != want {
		ts.Fatalf("nimbus exited %d, want %d", got, want)
	}
}
