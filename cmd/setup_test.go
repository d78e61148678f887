//go:build unix

package cmd_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/nimbus-sh/nimbus/internal/cftest"
)

// Fixed identities of the fake Cloudflare account used by the setup scripts.
const (
	cfAccount  = "0123456789abcdef0123456789abcdef"
	cfAccount2 = "fedcba9876543210fedcba9876543210"
	cfToken    = "cf-test-token-0123456789"
)

// TestSetupScripts drives `nimbus setup cloudflare` end to end against an
// in-process fake Cloudflare API; each script gets its own fake, reachable
// through CLOUDFLARE_API_BASE_URL, and the `cf` command to configure and
// inspect it.
func TestSetupScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/setup",
		Setup: func(env *testscript.Env) error {
			env.Setenv("XDG_CONFIG_HOME", env.WorkDir+"/.config")
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("NO_COLOR", "")
			srv := cftest.New()
			env.Defer(srv.Close)
			srv.AddAccount(cfAccount, "Acme Corp")
			srv.AddToken(cfToken, &cftest.Token{Scope: "user", Accounts: []string{cfAccount}})
			srv.SetSubdomain(cfAccount, "acme")
			env.Values["cf"] = srv
			env.Setenv("CLOUDFLARE_API_BASE_URL", srv.BaseURL())
			// The fake as an HTTP proxy (HTTP_PROXY=$CF_URL): it then
			// records what would have crossed the network.
			env.Setenv("CF_URL", srv.URL)
			env.Setenv("CF_ACCOUNT", cfAccount)
			env.Setenv("CF_ACCOUNT2", cfAccount2)
			env.Setenv("CF_TOKEN", cfToken)
			// These scripts test provisioning with --skip-runtimes; a sync
			// that ran by mistake fails here instead of reaching npm.
			env.Setenv("NPM_CONFIG_REGISTRY", "http://127.0.0.1:9/")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"cf":   cmdCF,
			"mode": cmdMode,
			// status N PROGRAM ARGS...: PROGRAM exits N.
			"status": statusCmd(setupEnvKeys),
		},
	})
}

// setupEnvKeys are the variables the status command passes on.
var setupEnvKeys = []string{"PATH", "HOME", "XDG_CONFIG_HOME", "NO_COLOR", "TMPDIR", "JWT_SECRET",
	"CLOUDFLARE_API_BASE_URL", "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID", "NPM_CONFIG_REGISTRY"}

// cmdCF configures and inspects the fake:
//
//	cf account ID NAME
//	cf token TOKEN SCOPE STATUS ACCOUNTS|- [DENIED-PERMISSION...]
//	cf r2-disabled ACCOUNT
//	cf no-subdomain ACCOUNT
//	cf conflict-on-create
//	cf deploy ACCOUNT WORKER
//	cf bucket ACCOUNT NAME
//	cf fault METHOD PATH-SUFFIX STATUS CODE TIMES
//	cf lost METHOD PATH-SUFFIX STATUS CODE TIMES
//	                              like fault, but the request takes effect
//	                              first (the answer is lost on the way)
//	cf hang METHOD PATH-SUFFIX TIMES
//	                              hold matching requests unanswered until
//	                              the client gives up (a stalled API)
//	cf reset                      forget recorded requests
//	cf requests                   write "METHOD path" lines to $WORK/requests
//	cf count N [MUTATIONS]        assert the number of requests (and mutations)
//	cf buckets ACCOUNT NAME...    assert the account's buckets
//	cf secret ACCOUNT WORKER NAME FILE
//	                              assert the Worker secret equals FILE's content
//	                              and appears in neither stdout nor stderr
//	cf put-secret ACCOUNT WORKER NAME FILE
//	                              set the Worker secret to FILE's content out of
//	                              band, as `wrangler secret put` does (not recorded)
func cmdCF(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("cf does not support !")
	}
	srv := ts.Value("cf").(*cftest.Server)
	if len(args) == 0 {
		ts.Fatalf("usage: cf SUBCOMMAND ...")
	}
	atoi := func(s string) int {
		n, err := strconv.Atoi(s)
		ts.Check(err)
		return n
	}
	switch args[0] {
	case "account":
		srv.AddAccount(args[1], args[2])
	case "token":
		t := &cftest.Token{Scope: args[2], Status: args[3], Denied: args[5:]}
		if args[4] != "-" {
			t.Accounts = strings.Split(args[4], ",")
		}
		srv.AddToken(args[1], t)
	case "r2-disabled":
		srv.DisableR2(args[1])
	case "no-subdomain":
		srv.SetSubdomain(args[1], "")
	case "conflict-on-create":
		srv.SetConflictOnCreate(true)
	case "deploy":
		srv.DeployWorker(args[1], args[2])
	case "bucket":
		srv.AddBucket(args[1], args[2])
	case "fault", "lost":
		srv.AddFault(cftest.Fault{Method: args[1], PathSuffix: args[2], Status: atoi(args[3]), Code: int64(atoi(args[4])), Message: "injected fault", Times: atoi(args[5]), RetryAfter: "0", Lost: args[0] == "lost"})
	case "hang":
		srv.AddFault(cftest.Fault{Method: args[1], PathSuffix: args[2], Times: atoi(args[3]), Hang: true})
	case "reset":
		srv.ResetRequests()
	case "requests":
		ts.Check(os.WriteFile(ts.MkAbs("requests"), []byte(srv.Summary()), 0o644))
	case "count":
		if got := len(srv.Requests()); got != atoi(args[1]) {
			ts.Fatalf("%d requests, want %s:\n%s", got, args[1], srv.Summary())
		}
		if len(args) > 2 && srv.Mutations() != atoi(args[2]) {
			ts.Fatalf("%d mutations, want %s:\n%s", srv.Mutations(), args[2], srv.Summary())
		}
	case "buckets":
		if got, want := strings.Join(srv.Buckets(args[1]), " "), strings.Join(args[2:], " "); got != want {
			ts.Fatalf("buckets %q, want %q", got, want)
		}
	case "secret":
		v, ok := srv.Secret(args[1], args[2], args[3])
		want := strings.TrimSpace(ts.ReadFile(args[4]))
		if !ok || v != want {
			ts.Fatalf("secret %s on %s: %q (set %v), want the content of %s", args[3], args[2], v, ok, args[4])
		}
		for _, stream := range []string{"stdout", "stderr"} {
			if strings.Contains(ts.ReadFile(stream), v) {
				ts.Fatalf("the secret appears on %s", stream)
			}
		}
	case "put-secret":
		srv.SetSecret(args[1], args[2], args[3], strings.TrimSpace(ts.ReadFile(args[4])))
	default:
		ts.Fatalf("unknown cf subcommand %q", args[0])
	}
}

// cmdMode asserts a file's permission bits: mode FILE 0600.
func cmdMode(ts *testscript.TestScript, neg bool, args []string) {
	st, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	if got := uint64(st.Mode().Perm()); (got == want) == neg {
		ts.Fatalf("%s has mode %s, want %s%s", args[0], fmt.Sprintf("%04o", got), map[bool]string{true: "not "}[neg], args[1])
	}
}
