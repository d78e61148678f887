//go:build unix

package cmd_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/nimbus-sh/nimbus/internal/cftest"
)

// doctorEnvKeys are passed to the programs the doctor scripts run.
var doctorEnvKeys = append(slices.Clone(devEnvKeys), "NIMBUS_RELEASES_URL", "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_BASE_URL",
	"CLOUDFLARE_ACCOUNT_ID", "NIMBUS_TOKEN_FILE", "NIMBUS_BASE_PATH", "NIMBUS_PROFILE", "NIMBUS_HTTP_TIMEOUT", "NIMBUS_WRITE_LIMIT")

var doctorCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	// status N PROGRAM ARGS...: as in the dev scripts, with the doctor's
	// environment.
	"status":   statusCmd(doctorEnvKeys),
	"waitport": devCmds["waitport"],
	"cf":       cmdCF,
	"r2":       cmdR2,
	// fakerelease TAG: a release endpoint answering TAG as the latest
	// release, in NIMBUS_RELEASES_URL.
	"fakerelease": func(ts *testscript.TestScript, neg bool, args []string) {
		tag := args[0]
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]string{"tag_name": tag, "html_url": "https://github.com/nimbus-sh/nimbus/releases/tag/" + tag})
		}))
		ts.Defer(srv.Close)
		ts.Setenv("NIMBUS_RELEASES_URL", srv.URL)
	},
	// cfsecret ACCOUNT WORKER NAME: put a secret on a deployed Worker.
	"cfsecret": func(ts *testscript.TestScript, neg bool, args []string) {
		ts.Value("cf").(*cftest.Server).SetSecret(args[0], args[1], args[2], "not-printed-secret-value")
	},
	// checkstatus NAME STATUS REGEXP: the JSON report on stdout has check
	// NAME with STATUS and a detail or hint matching REGEXP.
	"checkstatus": func(ts *testscript.TestScript, neg bool, args []string) {
		var r struct {
			Checks []struct{ Name, Status, Detail, Hint string }
		}
		if err := json.Unmarshal([]byte(ts.ReadFile("stdout")), &r); err != nil {
			ts.Fatalf("stdout is not a doctor report: %v", err)
		}
		re := regexp.MustCompile(args[2])
		for _, c := range r.Checks {
			if c.Name != args[0] {
				continue
			}
			if c.Status != args[1] || !re.MatchString(c.Detail) && !re.MatchString(c.Hint) {
				ts.Fatalf("check %s: %s %q (hint %q), want %s matching %q", c.Name, c.Status, c.Detail, c.Hint, args[1], args[2])
			}
			if (c.Status == "fail" || c.Status == "warn") && c.Hint == "" {
				ts.Fatalf("check %s: %s without a hint", c.Name, c.Status)
			}
			return
		}
		ts.Fatalf("no check %s", args[0])
	},
}

// TestDoctorScripts runs nimbus doctor against nimbus dev, the fake
// Cloudflare API and a fake release endpoint.
func TestDoctorScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:  "testdata/doctor",
		Cmds: doctorCmds,
		Setup: func(env *testscript.Env) error {
			if err := runtimeSetup(env); err != nil {
				return err
			}
			port, err := freePort()
			if err != nil {
				return err
			}
			env.Setenv("DEV_PORT", port)
			env.Setenv("CF_TOKEN", cfToken)
			// No test may ask GitHub.
			env.Setenv("NIMBUS_RELEASES_URL", "http://127.0.0.1:9/no-release-endpoint")
			return nil
		},
	})
}
