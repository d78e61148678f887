package cmd_test

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
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
	if strings.HasSuffix(strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe"), ".test") {
		clearUserEnvironment()
	}
	cmds := map[string]func(){"nimbus": nimbusMain, "nimbus-testapp": testAppMain, loadtest.FloorName: loadtest.FloorMain}
	for name, main := range platformCmds {
		cmds[name] = main
	}
	testscript.Main(m, cmds)
}

// clearUserEnvironment unsets, in the test process only (not in the
// nimbus children it starts, which get what a test gives them), what a
// developer's shell may export for real use of nimbus: the README's quick
// start exports JWT_SECRET, and with it set two terminal tests minted a
// token where they expected the error of a machine without one. The
// benchmarks' NIMBUS_LOAD_* and the test hooks' NIMBUS_TEST_* stay.
func clearUserEnvironment() {
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "NIMBUS_LOAD_"), strings.HasPrefix(name, "NIMBUS_TEST_"):
		case strings.HasPrefix(name, "NIMBUS_"), strings.HasPrefix(name, "JWT_SECRET"),
			strings.HasPrefix(name, "CLOUDFLARE_"), strings.EqualFold(name, "npm_config_registry"),
			strings.EqualFold(name, "npm_config_userconfig"):
			os.Unsetenv(name)
		}
	}
}

// platformCmds are more programs of the test binary that only some
// platforms build (see the files that add to it).
var platformCmds = map[string]func(){}

// nimbusMain is main.main plus test-only hooks: NIMBUS_TEST_NOW_MS fixes
// the clock so upstream vectors, recorded at a fixed time, can be replayed,
// NIMBUS_TEST_CPUPROFILE and NIMBUS_TEST_MEMPROFILE write a CPU
// profile and an allocation profile of the whole run to those files
// (BenchmarkDevLoad's NIMBUS_LOAD_CPUPROFILE and NIMBUS_LOAD_MEMPROFILE
// profile the server this way), and NIMBUS_TEST_PROCS records the
// process's GOMAXPROCS as it changes (watchProcs). The hooks exist only
// in this test binary, never in a release build, and nothing reaches them
// over the network.
func nimbusMain() { os.Exit(nimbusRun()) }

// nimbusRun is nimbusMain up to the exit code, so that the profiles are
// written before the process exits.
func nimbusRun() int {
	f := cmdutil.New()
	if ms := os.Getenv("NIMBUS_TEST_NOW_MS"); ms != "" {
		n, err := strconv.ParseInt(ms, 10, 64)
		if err != nil {
			panic(err)
		}
		f.Now = func() time.Time { return time.UnixMilli(n) }
	}
	if p := os.Getenv("NIMBUS_TEST_CPUPROFILE"); p != "" {
		out, err := os.Create(p)
		if err != nil {
			panic(err)
		}
		if err := pprof.StartCPUProfile(out); err != nil {
			panic(err)
		}
		defer func() {
			pprof.StopCPUProfile()
			if err := out.Close(); err != nil {
				panic(err)
			}
		}()
	}
	if p := os.Getenv("NIMBUS_TEST_PROCS"); p != "" {
		watchProcs(p)
	}
	if p := os.Getenv("NIMBUS_TEST_MEMPROFILE"); p != "" {
		runtime.MemProfileRate = 4096
		defer func() {
			out, err := os.Create(p)
			if err == nil {
				err = pprof.Lookup("allocs").WriteTo(out, 0)
			}
			if err == nil {
				err = out.Close()
			}
			if err != nil {
				panic(err)
			}
		}()
	}
	return cmd.MainWith(f)
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
			// envfile NAME FILE sets NAME to FILE's content as it is, a
			// final line break included (a script line cannot hold one,
			// and $(cat FILE) would drop it).
			"envfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: envfile NAME FILE")
				}
				ts.Setenv(args[0], ts.ReadFile(args[1]))
			},
			// status N nimbus ARGS...: see exitCodeCmd.
			"status": exitCodeCmd([]string{"PATH", "HOME", "XDG_CONFIG_HOME", "NO_COLOR", "TMPDIR", "JWT_SECRET", "SYSTEMROOT", "USERPROFILE", "LOCALAPPDATA", "APPDATA"}),
			// tty N nimbus ARGS...: see ttyCmd.
			"tty": ttyCmd,
			// setout NAME: set NAME to the last command's stdout, trimmed.
			"setout": func(ts *testscript.TestScript, neg bool, args []string) {
				ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile("stdout")))
			},
		},
	})
}
