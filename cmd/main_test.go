package cmd_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/nimbus-sh/nimbus/cmd"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/loadtest"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
)

// TestMain lets the test binary act as the nimbus binary: testscript puts a
// copy named "nimbus" on PATH, and running it runs nimbusMain in a real
// child process with real stdio and exit codes.
func TestMain(m *testing.M) {
	// The local backend re-executes this binary as its sandbox init.
	localsandbox.MaybeRunInit()
	cmds := map[string]func(){"nimbus": nimbusMain, "nimbus-testapp": testAppMain, loadtest.FloorName: loadtest.FloorMain}
	for name, main := range platformCmds {
		cmds[name] = main
	}
	testscript.Main(m, cmds)
}

// platformCmds are more programs of the test binary that only some
// platforms build (see the files that add to it).
var platformCmds = map[string]func(){}

// nimbusMain is main.main plus one test-only hook: NIMBUS_TEST_NOW_MS fixes
// the clock so upstream vectors, recorded at a fixed time, can be replayed.
// The hook exists only in this test binary, never in a release build.
func nimbusMain() {
	f := cmdutil.New()
	if ms := os.Getenv("NIMBUS_TEST_NOW_MS"); ms != "" {
		n, err := strconv.ParseInt(ms, 10, 64)
		if err != nil {
			panic(err)
		}
		f.Now = func() time.Time { return time.UnixMilli(n) }
	}
	os.Exit(cmd.MainWith(f))
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			// A clean environment: no secrets or config leak in from the
			// developer's shell, and the user config dir is the sandbox.
			env.Setenv("XDG_CONFIG_HOME", env.WorkDir+"/.config")
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("NO_COLOR", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// envcr NAME VALUE sets NAME to VALUE followed by a carriage
			// return, as $(cat crlf-file) does (a script line cannot hold
			// one).
			"envcr": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: envcr NAME VALUE")
				}
				ts.Setenv(args[0], args[1]+"\r")
			},
		},
	})
}
