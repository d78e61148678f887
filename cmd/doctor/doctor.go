// Package doctor implements `nimbus doctor`. The checks are pkg/doctor;
// finding the settings and rendering the report is cmd/internal/doctorcli.
package doctor

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/doctorcli"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/duration"
)

// NewCmdDoctor returns `nimbus doctor`.
func NewCmdDoctor(f *cmdutil.Factory) *cobra.Command {
	o := &doctorcli.Options{}
	cmd := &cobra.Command{
		Use:   "doctor [--json]",
		Short: "Check the setup and say what is wrong and how to fix it",
		Long: `Check everything nimbus depends on, in order, each with a pass, warn, fail or
skip line and a hint:

  version          this binary against the latest release (offline: skipped)
  config           the config files found and their keys (unknown keys named)
  credentials      which credentials are present and where they come from
                   (never their values)
  token            the token's expiry, scopes and pin; its signature when
                   JWT_SECRET is also set
  endpoint         the Worker answers and its remote API is enabled: ready on
                   a throwaway sandbox, destroyed again
  clock            this clock against the Worker's Date header (tokens have
                   no skew allowance)
  wrangler         ./wrangler.jsonc: Worker name and account_id (of env.NAME
                   with --env NAME)
  buckets          the R2 bindings, consistently named, and on the account
  runtime-catalog  vars.NIMBUS_RUNTIME_CATALOG_SHA256 against the bucket
  worker-secret    JWT_SECRET is set on the deployed Worker

The checks on the account (buckets, runtime-catalog, worker-secret) need a
Cloudflare API token (CLOUDFLARE_API_TOKEN or --api-token-file); without one
they are skipped or say what they could not check.

--env NAME checks the Worker 'wrangler deploy --env NAME' deploys: env.NAME of
the wrangler config read as wrangler reads it (its name, else <name>-NAME; its
account_id, else the top level's; only its own r2_buckets and vars), as
'setup cloudflare --env' and 'runtime sync --env' do. An environment the
config does not define, or no config at all, fails the wrangler check.

A token file of - (--token-file, NIMBUS_TOKEN_FILE, --api-token-file) is read
from standard input when it is a pipe, as the other commands read it; on a
terminal doctor does not ask for the token: the credentials check fails and
says how to give it.

With --json, or when stdout is not a terminal, the report is one JSON object:
{"ok":bool,"checks":[{"name","status","detail","hint"}]}. The exit status is
0 when no check fails, 1 otherwise. NIMBUS_RELEASES_URL points the version
check at a mirror of the release API.`,
		Example: `  nimbus doctor
  nimbus doctor --json | jq -r '.checks[] | select(.status == "fail") | .name'
  # with CLOUDFLARE_API_TOKEN exported, the Cloudflare checks run too
  nimbus doctor --wrangler-config infra/wrangler.jsonc
  nimbus doctor --endpoint http://127.0.0.1:8787 --no-version-check
  # the staging Worker of wrangler.jsonc (env.staging)
  nimbus doctor --env staging`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.RefuseEmpty(cmd,
				cmdutil.EmptyFlag{Name: "wrangler-config", Hint: "name the wrangler config, or leave --wrangler-config out for ./wrangler.jsonc"},
				cmdutil.EmptyFlag{Name: "api-token-file", Hint: "name the file that holds the token (- for standard input), or leave --api-token-file out to use CLOUDFLARE_API_TOKEN"},
			); err != nil {
				return err
			}
			return doctorcli.BuildAndRun(cmd.Context(), f, cmd, o)
		},
	}
	fl := cmd.Flags()
	o.Conn.AddFlags(fl)
	// doctor reads "-" from a pipe, as the sandbox commands do (and
	// refuses it from a terminal, where it does not prompt).
	fl.Lookup("token-file").Usage = "read the bearer token from `FILE` (\"-\" for stdin; NIMBUS_TOKEN_FILE)"
	// The endpoint check is ready on a throwaway sandbox of the default
	// profile: a profile's preinstalled runtimes would make the probe an
	// install. The flags stay accepted, so that the sandbox commands'
	// flags can be passed to doctor as they are, and say they are unused.
	fl.Lookup("profile").Usage = "accepted as the sandbox commands take it, not used: the endpoint check runs on the default profile"
	fl.Lookup("root").Usage = "accepted as the sandbox commands take it, not used by any check"
	fl.StringVar(&o.APITokenFile, "api-token-file", "", "read the Cloudflare API token from `FILE` (- for stdin) instead of CLOUDFLARE_API_TOKEN")
	fl.StringVar(&o.AccountID, "account-id", "", "Cloudflare account `ID` (default: CLOUDFLARE_ACCOUNT_ID, account_id in wrangler.jsonc, or the token's only account)")
	fl.StringVar(&o.WranglerConfig, "wrangler-config", "", "the project's wrangler config `FILE` (default ./wrangler.jsonc)")
	fl.StringVar(&o.WranglerEnv, "env", "", "wrangler environment `NAME`: check env.NAME of the wrangler config, as 'wrangler deploy --env NAME' deploys it")
	fl.BoolVar(&o.NoVersionCheck, "no-version-check", false, "do not ask the release endpoint for the latest version")
	duration.Var(fl, &o.Timeout, "timeout", 10*time.Second, duration.Limits{Min: time.Second, Max: 5 * time.Minute}, "bound each network check: seconds or a duration such as 30s, 1s to 5m")
	return cmd
}
