package cmd_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
)

// Fake Nimbus Workers started by the scripts' fakeworker command, one per
// script run.
var (
	fakesMu sync.Mutex
	fakes   = map[*testscript.TestScript]*sandboxtest.Server{}
)

func fakeOf(ts *testscript.TestScript) *sandboxtest.Server {
	fakesMu.Lock()
	defer fakesMu.Unlock()
	srv := fakes[ts]
	if srv == nil {
		ts.Fatalf("no fakeworker started")
	}
	return srv
}

// Identities of the tokens a fakeworker mints for the scripts, exported
// as $TOK_USE, $TOK_ATTACH, $TOK_PINNED and $TOK_DESTROY (and written to
// files by mktoken).
var scriptIDs = map[string]sandboxtest.Identity{
	"use":     {Tenant: "acme", Subject: "ci", Scopes: []string{"sandbox:use"}},
	"attach":  {Tenant: "acme", Scopes: []string{"session:attach"}},
	"pinned":  {Tenant: "acme", Scopes: []string{"sandbox:use"}, SID: "other-job"},
	"destroy": {Tenant: "acme", Subject: "ci", Scopes: []string{"sandbox:use", "session:destroy"}},
}

// scriptEnvKeys are passed to commands run by the exits command.
var scriptEnvKeys = []string{"PATH", "HOME", "XDG_CONFIG_HOME", "NO_COLOR", "TMPDIR", "JWT_SECRET", "JWT_SECRET_PREVIOUS",
	"NIMBUS_ENDPOINT", "NIMBUS_TOKEN", "NIMBUS_TOKEN_FILE", "NIMBUS_TENANT", "NIMBUS_SUBJECT", "NIMBUS_PROFILE", "NIMBUS_BASE_PATH", "NIMBUS_HTTP_TIMEOUT",
	"SECRET_VALUE", "WORK", "HTTPS_PROXY"}

var sandboxCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	// fakeworker [-jwt SECRET] [-noexecstream] [-truncate] [-disabled]
	// [-ignoretimeout] [-ondemand=false -preinstall python -allow node,python]
	// starts the local backend behind the fault middleware (package
	// sandboxtest), sets NIMBUS_ENDPOINT to it and exports the tokens of
	// scriptIDs as $TOK_USE, $TOK_ATTACH, $TOK_PINNED and $TOK_DESTROY.
	"fakeworker": func(ts *testscript.TestScript, neg bool, args []string) {
		fs := flag.NewFlagSet("fakeworker", flag.ContinueOnError)
		secret := fs.String("jwt", "", "the backend's JWT_SECRET (default: sandboxtest's)")
		noStream := fs.Bool("noexecstream", false, "old server without execStream")
		truncate := fs.Bool("truncate", false, "cut exec streams before the exit frame")
		disabled := fs.Bool("disabled", false, "remote API disabled (302)")
		ignoreTimeout := fs.Bool("ignoretimeout", false, "never report timeouts")
		onDemand := fs.Bool("ondemand", true, "profile runtimes.onDemand")
		preinstall := fs.String("preinstall", "", "profile runtimes.preinstall (comma-separated)")
		allow := fs.String("allow", "", "profile runtimes.allow (comma-separated)")
		if err := fs.Parse(args); err != nil {
			ts.Fatalf("fakeworker: %v", err)
		}
		opts := sandboxtest.Options{Secret: *secret, NoExecStream: *noStream, TruncateStream: *truncate, Disabled: *disabled, IgnoreTimeout: *ignoreTimeout, MaxPiece: 5, Seed: 42}
		if *preinstall != "" || *allow != "" || !*onDemand {
			rt := &sandboxtest.Runtimes{OnDemand: onDemand}
			if *preinstall != "" {
				rt.Preinstall = strings.Split(*preinstall, ",")
			}
			if *allow != "" {
				rt.Allow = strings.Split(*allow, ",")
			}
			opts.Profiles = map[string]sandboxtest.Profile{"default": {Runtimes: rt}}
		}
		srv := sandboxtest.New(opts)
		fakesMu.Lock()
		if old := fakes[ts]; old != nil {
			old.Close()
		}
		fakes[ts] = srv
		fakesMu.Unlock()
		ts.Defer(func() {
			fakesMu.Lock()
			if fakes[ts] == srv {
				delete(fakes, ts)
			}
			fakesMu.Unlock()
			srv.Close()
		})
		ts.Setenv("NIMBUS_ENDPOINT", srv.URL)
		for name, id := range scriptIDs {
			ts.Setenv("TOK_"+strings.ToUpper(name), srv.Token(id))
		}
	},
	// mktoken NAME FILE: write the fakeworker's token NAME (use, attach,
	// pinned, destroy) to FILE, with a final newline.
	"mktoken": func(ts *testscript.TestScript, neg bool, args []string) {
		id, ok := scriptIDs[args[0]]
		if !ok || len(args) != 2 {
			ts.Fatalf("usage: mktoken use|attach|pinned|destroy FILE")
		}
		ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(fakeOf(ts).Token(id)+"\n"), 0o600))
	},
	// fakeerrorframe MESSAGE: exec streams end with an error frame carrying
	// MESSAGE instead of their exit frame.
	"fakeerrorframe": func(ts *testscript.TestScript, neg bool, args []string) {
		fakeOf(ts).SetErrorFrame(strings.Join(args, " "))
	},
	// fakegateway OP N: the next N requests for OP answer Cloudflare's 502
	// page.
	"fakegateway": func(ts *testscript.TestScript, neg bool, args []string) {
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		fakeOf(ts).FailGateway(args[0], n)
	},
	// fakefile DO PATH LOCAL: the sandbox file equals the local file.
	"fakefile": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 3 {
			ts.Fatalf("usage: fakefile DO PATH LOCAL")
		}
		got, ok := fakeOf(ts).File(args[0], args[1])
		want, err := os.ReadFile(ts.MkAbs(args[2]))
		ts.Check(err)
		if ok && bytes.Equal(got, want) == !neg {
			return
		}
		ts.Fatalf("fakefile %s %s: exists=%v, %d bytes, want %d bytes (neg=%v)", args[0], args[1], ok, len(got), len(want), neg)
	},
	// fakeput DO PATH LOCAL [MODE]: seed a sandbox file.
	"fakeput": func(ts *testscript.TestScript, neg bool, args []string) {
		data, err := os.ReadFile(ts.MkAbs(args[2]))
		ts.Check(err)
		mode := uint64(0o644)
		if len(args) > 3 {
			mode, err = strconv.ParseUint(args[3], 8, 32)
			ts.Check(err)
		}
		fakeOf(ts).PutFile(args[0], args[1], data, uint32(mode))
	},
	// fakemode DO PATH MODE: the sandbox entry has these permission bits.
	"fakemode": func(ts *testscript.TestScript, neg bool, args []string) {
		m, ok := fakeOf(ts).Mode(args[0], args[1])
		if !ok || fmt.Sprintf("%o", m) != args[2] {
			ts.Fatalf("fakemode %s: got %o (exists %v), want %s", args[1], m, ok, args[2])
		}
	},
	// fakeops: print the ops the fake received, one per line, and forget them.
	"fakeops": func(ts *testscript.TestScript, neg bool, args []string) {
		srv := fakeOf(ts)
		for _, r := range srv.Requests() {
			op := r.Op
			if op == "" {
				op = r.Method + " " + r.Path
			}
			fmt.Fprintf(ts.Stdout(), "%s %d %s\n", op, r.Status, r.DO)
		}
		srv.ResetRequests()
	},
	// mkbin FILE SIZE: write SIZE bytes cycling through all 256 values.
	"mkbin": func(ts *testscript.TestScript, neg bool, args []string) {
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + i/256)
		}
		ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
	},
	// fake503 OP N: the next N requests for OP answer 503 + Retry-After.
	"fake503": func(ts *testscript.TestScript, neg bool, args []string) {
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		fakeOf(ts).Fail503(args[0], n)
	},
	"exits": exitCodeCmd(scriptEnvKeys),
}

func TestSandboxScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:  "testdata/sandbox",
		Cmds: sandboxCmds,
		Setup: func(env *testscript.Env) error {
			env.Setenv("XDG_CONFIG_HOME", env.WorkDir+"/.config")
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("NO_COLOR", "")
			env.Setenv("WORK", env.WorkDir)
			return nil
		},
	})
}
