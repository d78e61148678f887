package setup

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/runtimecli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/config"
	"github.com/nimbus-sh/nimbus/internal/duration"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/regularfile"
	"github.com/nimbus-sh/nimbus/pkg/provision"
	"github.com/nimbus-sh/nimbus/pkg/wranglerfile"
)

// defaultWranglerConfig is read when --config is not given and it exists.
const defaultWranglerConfig = "wrangler.jsonc"

// WarnAccountReplaced: --account-id replaced another account_id in the
// wrangler config, so the next deploy goes to another account.
const WarnAccountReplaced = "W_ACCOUNT_REPLACED"

// WarnSecretMoved says the secret setup had generated for the Worker was
// moved aside (to <file>.previous), since the Worker was given another.
const WarnSecretMoved = "W_SECRET_MOVED"

// secretName is the Worker secret nimbus tokens are signed with.
const secretName = "JWT_SECRET"

type cloudflareOptions struct {
	name, accountID, bucketPrefix, runtimeBucket string
	env                                          string
	wranglerConfig, apiTokenFile, secretFile     string
	dryRun, setSecret, skipRuntimes, writeConfig bool
	replaceSecret                                bool
	timeout                                      time.Duration
}

// defaultTimeout bounds a whole setup run: a first run with runtimes
// moves about 95 MiB each way in a few minutes on a slow CI link, while a
// stalled API would otherwise keep a job for each request's timeout times
// its retries, step after step.
const defaultTimeout = 15 * time.Minute

func newCmdCloudflare(f *cmdutil.Factory) *cobra.Command {
	var o cloudflareOptions
	cmd := &cobra.Command{
		Use:   "cloudflare [--name WORKER] [--account-id ID] [--bucket-prefix P] [--runtime-bucket B] [--config wrangler.jsonc] [--env NAME] [--dry-run] [--set-secret [--replace-secret]]",
		Short: "Create the R2 buckets and settings a Nimbus Worker needs, through the Cloudflare API",
		Long: `Take a scaffolded project to "ready to deploy" through the Cloudflare API:

  1. verify the API token
  2. find the account (--account-id, CLOUDFLARE_ACCOUNT_ID, account_id in
     wrangler.jsonc, or the only account the token can access)
  3. check the R2 buckets the Worker binds and create the missing ones
  4. publish the runtimes (clang, CPython, bash) into the runtime bucket, as
     'nimbus runtime sync' does (skip with --skip-runtimes)
  5. write account_id into wrangler.jsonc (comments and layout are kept) and,
     with --write-config, the runtime catalog pin NIMBUS_RUNTIME_CATALOG_SHA256
  6. read the workers.dev subdomain, report the Worker URL and record it as
     endpoint in ./nimbus.yaml
  7. with --set-secret, put JWT_SECRET on the deployed Worker when it has none

The bucket names come from wrangler.jsonc when it exists (--config, default
./wrangler.jsonc), otherwise from the same builder 'nimbus init' uses:
<prefix>-npm-cache, <prefix>-npm-packument-cache and the runtime bucket.

--env NAME provisions the Worker 'wrangler deploy --env NAME' deploys, read
as wrangler reads env.NAME: its name (default: <name>-NAME), its account_id
(default: the top-level one), and only its own r2_buckets and vars, which
wrangler does not inherit. account_id is written where env.NAME reads it (a
member of its own when it inherits another account, which the top level
keeps) and the catalog pin into env.NAME.vars. An environment the file does
not define is refused.

The account_id in wrangler.jsonc is where the next deploy goes: a
different CLOUDFLARE_ACCOUNT_ID is refused (exit 78) before any request, and
only --account-id replaces it, with a warning naming the old id.

Every step is idempotent: a second run changes nothing, and a run that was
interrupted converges when repeated. --dry-run makes only GET requests and
writes no file. --timeout (default 15m) bounds the whole run: when it runs
out, setup stops (exit 69) naming the step it was in; the steps done are kept
and a rerun resumes after them.

Credentials never come from flags: the API token is read from
CLOUDFLARE_API_TOKEN or --api-token-file (- for stdin). The token needs
"Account Settings Read", "Workers R2 Storage Write", "Workers Scripts Read"
and, for --set-secret, "Workers Scripts Write".

JWT_SECRET for --set-secret comes from --secret-file (- for stdin), or from the
JWT_SECRET variable; when the --secret-file does not exist, a new random secret
is written to it (mode 0600). Without either, the secret is kept in
<config dir>/nimbus/secrets/<account id>/<worker>.jwt-secret (os.UserConfigDir:
~/.config on Linux, ~/Library/Application Support on macOS, %AppData% on
Windows), one per account, as Worker names are unique only within one. It is
never printed.

A Worker that already has JWT_SECRET keeps it ("JWT_SECRET already set on
Worker: left as is", "secret":"exists"): Cloudflare never returns a secret's
value, so setup cannot tell whether the one at hand is still the Worker's, and
putting it again would undo a rotation made since ('wrangler secret put') and
break every token minted with the current secret. --replace-secret puts it
anyway (a deliberate rotation; see docs/tokens.md for one without downtime).
When the Worker has one and none is at hand (a fresh CI runner), setup exits
78 instead of generating one only this machine knows, unless --replace-secret
asks for exactly that.

Environment: CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID, JWT_SECRET,
CLOUDFLARE_API_BASE_URL (API base for proxies and tests: https, or http to a
loopback address only).

stdout (with --json, or when it is not a terminal) is one JSON object:
{"ok","worker","buckets","runtimeBucket","runtimesSynced","accountId",
"bucketStatus","workersDevUrl","secret","catalogSha256","catalogPin"}, plus
"warnings" when there are any. With --json, stderr carries JSON objects only,
also on a terminal (no checklist).`,
		Example: `  # CLOUDFLARE_API_TOKEN exported (docs/setup.md says which permissions it needs)
  nimbus setup cloudflare --name my-sandbox --write-config
  nimbus setup cloudflare --dry-run
  nimbus setup cloudflare --skip-runtimes
  nimbus setup cloudflare --set-secret --secret-file .secrets/jwt
  # rotate on purpose: put a new secret (from 'nimbus token secret') over the Worker's
  nimbus setup cloudflare --set-secret --replace-secret --secret-file new.jwt-secret
  # the staging environment of wrangler.jsonc (env.staging), as 'wrangler deploy --env staging' deploys it
  nimbus setup cloudflare --env staging --write-config`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCloudflare(cmd, f, &o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.name, "name", "", "Worker name (default: name in wrangler.jsonc)")
	fl.StringVar(&o.accountID, "account-id", "", "Cloudflare account `ID` (default: CLOUDFLARE_ACCOUNT_ID, wrangler.jsonc, or the token's only account)")
	fl.StringVar(&o.bucketPrefix, "bucket-prefix", "", "prefix of the npm cache buckets (default: the Worker name); when the wrangler config binds r2_buckets, those are used and a prefix naming others is refused")
	fl.StringVar(&o.runtimeBucket, "runtime-bucket", "", "runtime cache bucket (default: the NIMBUS_RUNTIME_CACHE bucket of the wrangler config, else nimbus-runtime-cache-public); one other than the config's is refused")
	// This local --config shadows the global one (nimbus.yaml): for setup the
	// file that matters is the Worker's wrangler config, as cli.md specifies.
	fl.StringVar(&o.wranglerConfig, "config", "", "wrangler config `FILE` (default: ./wrangler.jsonc when present)")
	fl.StringVar(&o.env, "env", "", "wrangler environment `NAME`: provision env.NAME of the wrangler config, as 'wrangler deploy --env NAME' deploys it")
	fl.StringVar(&o.apiTokenFile, "api-token-file", "", "read the Cloudflare API token from `FILE` (- for stdin) instead of CLOUDFLARE_API_TOKEN")
	fl.BoolVar(&o.dryRun, "dry-run", false, "show the plan; make no change (GET requests only)")
	fl.BoolVar(&o.setSecret, "set-secret", false, "put JWT_SECRET on the deployed Worker")
	fl.BoolVar(&o.replaceSecret, "replace-secret", false, "with --set-secret, put JWT_SECRET even when the Worker already has one (a rotation: tokens minted with the old secret stop verifying)")
	fl.StringVar(&o.secretFile, "secret-file", "", "read JWT_SECRET from `FILE`; a missing file receives a new random secret (0600)")
	fl.BoolVar(&o.skipRuntimes, "skip-runtimes", false, "create buckets only; do not upload the clang/CPython/bash runtime blobs")
	duration.Var(fl, &o.timeout, "timeout", defaultTimeout, duration.Limits{AllowZero: true},
		"give up the whole run after this long (exit 69, E_SETUP_TIMEOUT; the steps done are kept, a rerun resumes): seconds or a duration such as 90s, 30m; 0 means no limit")
	fl.BoolVar(&o.writeConfig, "write-config", false, "also set vars."+runtimecli.PinVar+" (the runtime catalog pin) in the wrangler config")
	return cmd
}

func runCloudflare(cmd *cobra.Command, f *cmdutil.Factory, o *cloudflareOptions) error {
	ios := f.IOStreams
	// Each of these given empty silently meant its default: the name in
	// wrangler.jsonc, ./wrangler.jsonc, CLOUDFLARE_API_TOKEN, JWT_SECRET.
	if err := cmdutil.RefuseEmpty(cmd,
		cmdutil.EmptyFlag{Name: "name", Hint: "give the Worker name, e.g. --name my-worker, or leave --name out for the name in wrangler.jsonc"},
		cmdutil.EmptyFlag{Name: "config", Hint: "name the wrangler config, or leave --config out for ./wrangler.jsonc"},
		cmdutil.EmptyFlag{Name: "api-token-file", Hint: "name the file that holds the token (- for standard input), or leave --api-token-file out to use CLOUDFLARE_API_TOKEN"},
		cmdutil.EmptyFlag{Name: "secret-file", Hint: "name the file that holds the secret (- for standard input), or leave --secret-file out to use JWT_SECRET"},
		cmdutil.EmptyFlag{Name: "bucket-prefix", Hint: "give the prefix, e.g. --bucket-prefix acme, or leave it out to use the Worker name"},
		cmdutil.EmptyFlag{Name: "runtime-bucket", Hint: "name the bucket, or leave --runtime-bucket out for the wrangler config's"},
	); err != nil {
		return err
	}

	// The wrangler config decides the names when it exists.
	wranglerPath := o.wranglerConfig
	var wranglerData []byte
	if wranglerPath != "" {
		data, err := regularfile.ReadFile(wranglerPath, wranglerfile.MaxSize)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return clierr.Configf("check the --config path, or run 'nimbus init' first", "wrangler config %s does not exist", wranglerPath)
			}
			return clierr.Wrap(err, exitcode.Config, clierr.CodeIO, "cannot read "+wranglerPath+": "+regularfile.Reason(err), regularfile.Hint(err, "name the wrangler config with --config"))
		}
		wranglerData = data
	} else if data, err := regularfile.ReadFile(defaultWranglerConfig, wranglerfile.MaxSize); err == nil {
		wranglerPath, wranglerData = defaultWranglerConfig, data
	} else if !errors.Is(err, fs.ErrNotExist) {
		return clierr.Wrap(err, exitcode.Config, clierr.CodeIO, "cannot read "+defaultWranglerConfig+": "+regularfile.Reason(err), regularfile.Hint(err, "name the wrangler config with --config"))
	}
	naming, err := provision.ResolveNaming(provision.Inputs{
		Name: o.name, BucketPrefix: o.bucketPrefix, RuntimeBucket: o.runtimeBucket,
		WranglerConfig: wranglerData, WranglerPath: wranglerPath, Env: o.env,
	})
	if err != nil {
		return toCLIError(err)
	}

	if o.apiTokenFile == "-" && o.secretFile == "-" {
		return clierr.Usagef("--api-token-file - and --secret-file - cannot both read standard input")
	}
	token, err := apiToken(f, o.apiTokenFile)
	if err != nil {
		return err
	}
	// Only the flag replaces another account_id in the wrangler config:
	// CLOUDFLARE_ACCOUNT_ID may be left over from another project.
	accountID, accountFrom := o.accountID, "--account-id"
	if accountID == "" {
		accountID, accountFrom = f.Getenv("CLOUDFLARE_ACCOUNT_ID"), "CLOUDFLARE_ACCOUNT_ID"
	}
	if accountID == "" {
		accountID, accountFrom = naming.AccountID, wranglerPath
	}

	plan := provision.Plan{
		Worker:           naming.Worker,
		AccountID:        accountID,
		AccountIDFrom:    accountFrom,
		ReplaceAccountID: o.accountID != "",
		Buckets:          naming.Buckets,
		RuntimeBucket:    naming.RuntimeBucket,
		DryRun:           o.dryRun,
		WranglerConfig:   wranglerPath,
		WranglerEnv:      o.env,
		NimbusConfig:     config.ProjectFile,
		Timeout:          o.timeout,
	}
	if o.setSecret {
		spec, err := secretSpec(f, o)
		if err != nil {
			return err
		}
		spec.Replace = o.replaceSecret
		plan.Secret = spec
	} else if o.secretFile != "" {
		return clierr.Usagef("--secret-file needs --set-secret")
	} else if o.replaceSecret {
		return clierr.Usagef("--replace-secret needs --set-secret")
	}

	client, err := provision.NewClient(provision.ClientOptions{
		Token:        token,
		BaseURL:      f.Getenv("CLOUDFLARE_API_BASE_URL"),
		MaxRetries:   provision.DefaultMaxRetries,
		RetryBackoff: provision.DefaultRetryBackoff,
	})
	if err != nil {
		return toCLIError(err)
	}
	// With --json both views are silent: stderr carries JSON objects only,
	// terminal or not, and stdout's object carries the warnings.
	var runtimes *runtimecli.SetupSync
	if !o.skipRuntimes {
		keep, err := runtimecli.CacheKeep(f, nil)
		if err != nil {
			return err
		}
		runtimes = &runtimecli.SetupSync{F: f, Client: client, View: runtimecli.NewView(ios, f.JSON), Keep: keep}
		plan.Runtimes = runtimes
		plan.WritePin = o.writeConfig && wranglerPath != ""
	} else if o.writeConfig {
		return clierr.Usagef("--write-config needs the runtime sync; drop --skip-runtimes")
	}
	if o.writeConfig && wranglerPath == "" {
		return clierr.Configf("run in the project directory (with wrangler.jsonc) or pass --config FILE", "--write-config: no wrangler config to write the catalog pin into")
	}
	view := newView(ios, o.dryRun, f.JSON)
	p := &provision.Provisioner{Client: client, Observer: view}
	started := time.Now()
	res, err := p.Run(cmd.Context(), plan)
	if err != nil {
		err = withChanges(toCLIError(err), res)
		if done := res.Changes(); len(done) > 0 && !f.JSON && !ios.IsStderrTTY() {
			// A program's stderr gets upstream's one-line error, which has
			// no hint: say it on a line of its own before it.
			fmt.Fprintf(ios.ErrOut, "nimbus: done before the failure: %s\n", strings.Join(done, ", "))
		}
		return err
	}
	if res.ReplacedAccountID != "" && f.JSON {
		// stderr carries JSON objects only; stdout's warnings say it too.
		verb := "replaced"
		if res.DryRun {
			verb = "would be replaced"
		}
		f.Warn(&clierr.Warning{Code: WarnAccountReplaced,
			Message: fmt.Sprintf("account_id %s in %s %s by %s (--account-id)", res.ReplacedAccountID, wranglerPath, verb, res.AccountID),
			Hint:    "the next deploy goes to account " + res.AccountID + "; pass --account-id " + res.ReplacedAccountID + " to go back"})
	}
	if res.SecretPreviousFile != "" && f.JSON {
		// stderr carries JSON objects only; stdout's warnings say it too.
		verb := "was moved"
		if res.DryRun {
			verb = "would be moved"
		}
		f.Warn(&clierr.Warning{Code: WarnSecretMoved,
			Message: fmt.Sprintf("the JWT_SECRET generated before for Worker %q %s to %s: the Worker no longer has it", res.Worker, verb, res.SecretPreviousFile),
			Hint:    "mint with the secret just put; keep the old one as JWT_SECRET_PREVIOUS until the tokens signed with it expire (docs/tokens.md)"})
	}
	warnings := append([]string{}, res.Warnings...)
	if runtimes != nil && runtimes.Result != nil {
		warnings = append(warnings, runtimes.Result.Warnings...)
	}
	if !f.JSON && !view.active {
		// The checklist drew them on a terminal; a log (stderr redirected)
		// gets them as lines, whether or not stdout's JSON carries them too.
		for _, w := range warnings {
			fmt.Fprintf(ios.ErrOut, "nimbus: warning: %s\n", w)
		}
	}
	if res.SecretAdoptedFrom != "" && !f.JSON && !view.active {
		// The checklist says it on a terminal; stdout's JSON has it as
		// secretAdoptedFrom.
		verb := "was copied"
		if res.DryRun {
			verb = "would be copied"
		}
		fmt.Fprintf(ios.ErrOut, "nimbus: the secret of %s (an older nimbus's file) %s to %s (mode 0600), where setup keeps the secret of Worker %q in account %s; the old file is left as it is\n",
			res.SecretAdoptedFrom, verb, res.SecretFile, res.Worker, res.AccountID)
	}
	if f.MachineOutput() {
		if err := f.PrintJSON(resultValue(res, warnings)); err != nil {
			return err
		}
	}
	view.summary(res, time.Since(started))
	switch {
	case res.Pin != provision.PinStale && res.Pin != provision.PinMissing:
	case f.JSON:
		// stderr carries JSON objects only.
		code := runtimecli.WarnPinMissing
		if res.Pin == provision.PinStale {
			code = runtimecli.WarnPinStale
		}
		f.Warn(&clierr.Warning{Code: code,
			Message: fmt.Sprintf("the Worker must carry \"vars\": { \"%s\": \"%s\" } for runtime installs", runtimecli.PinVar, res.CatalogSHA256),
			Hint:    "rerun with --write-config to set it, then redeploy"})
	case !ios.IsStderrTTY():
		fmt.Fprintf(ios.ErrOut, "nimbus: the Worker must carry \"vars\": { \"%s\": \"%s\" } for runtime installs; rerun with --write-config to set it, then redeploy.\n", runtimecli.PinVar, res.CatalogSHA256)
	}
	return nil
}

// apiToken reads the Cloudflare API token: --api-token-file wins over
// CLOUDFLARE_API_TOKEN. A flag never carries the token itself.
func apiToken(f *cmdutil.Factory, file string) (string, error) {
	return runtimecli.APIToken(f, file)
}

// secretSpec picks where JWT_SECRET comes from: --secret-file (stdin with
// -), then the environment, then a file per account and Worker in the user
// config directory that is generated once and reused by later runs.
func secretSpec(f *cmdutil.Factory, o *cloudflareOptions) (*provision.SecretSpec, error) {
	spec := &provision.SecretSpec{Name: secretName}
	switch {
	case o.secretFile == "-":
		v, err := cmdutil.ReadSecretFile("-", f.IOStreams.In)
		if err != nil {
			return nil, err
		}
		spec.Value = v
	case o.secretFile != "":
		spec.File = o.secretFile
	case f.Getenv(secretName) != "":
		spec.Value = f.Getenv(secretName)
	}
	// The directory also records the secret last given, so a rerun
	// handing over the same one is not warned again; a secret given works
	// without it.
	dir, err := f.Paths().SecretDir()
	switch {
	case err == nil:
		spec.Dir = dir
	case spec.Value == "" && spec.File == "":
		return nil, clierr.Configf("export JWT_SECRET or pass --secret-file FILE", "cannot find a directory for the generated JWT_SECRET: %v", err)
	}
	if spec.Value == "" && spec.File == "" && spec.Dir == "" {
		return nil, clierr.Configf("the secret must not be empty", "%s is empty", secretName)
	}
	return spec, nil
}

// withChanges adds to a failed run's hint what the run changed before it
// failed, so a CI log (no checklist there) says exactly what was and was
// not done.
func withChanges(err error, res *provision.Result) error {
	done := res.Changes()
	var ce *clierr.Error
	if len(done) == 0 || !errors.As(err, &ce) {
		return err
	}
	h := "done before the failure: " + strings.Join(done, ", ") + "; rerunning keeps them and resumes"
	if ce.Hint != "" {
		h = ce.Hint + " (" + h + ")"
	}
	ce.Hint = h
	return err
}

// toCLIError maps provision's (and the runtime sync's) errors onto sysexits
// codes.
func toCLIError(err error) error { return runtimecli.CLIError(err) }
