package runtimecmd

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/runtimecli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/progress"
	"github.com/nimbus-sh/nimbus/pkg/runtimesync"
	"github.com/nimbus-sh/nimbus/pkg/scaffold"
	"github.com/nimbus-sh/nimbus/pkg/wranglerfile"
)

type syncOptions struct {
	cf          cfFlags
	runtimes    []string
	writeConfig string
	dryRun      bool
	quiet       bool
}

func newCmdSync(f *cmdutil.Factory) *cobra.Command {
	var o syncOptions
	cmd := &cobra.Command{
		Use:   "sync [runtime[@version]...] [--runtimes a,b] [--bucket NAME] [--env NAME] [--write-config[=PATH]] [--dry-run]",
		Short: "Publish runtime packages from npm into the R2 runtime bucket and print the catalog pin",
		Long: `Publish the language runtimes into the R2 bucket the Worker binds as
NIMBUS_RUNTIME_CACHE, natively (no Node.js, no wrangler):

  1. fetch @nimbus-sh/runtime-<name> from the npm registry npm is configured
     with (npm_config_registry, registry= in ./.npmrc or ~/.npmrc), check the
     tarball against the registry's sha512 integrity, and keep it in the user
     cache directory so a second sync downloads nothing. A private registry
     or mirror gets the token in NIMBUS_NPM_TOKEN (or in the file named by
     NIMBUS_NPM_TOKEN_FILE) as Authorization: Bearer, on requests to its own
     host only
  2. check every blob against the package's manifest (SHA-256 and size); a
     mismatch uploads nothing
  3. upload the blobs the bucket lacks (keys are content-addressed), then
     manifests/<name>-<version>.json, then the merged catalog under
     catalog/sha256/<digest>.json and finally catalog/v1.json

The default set is clang, cpython and bash; "python" resolves to cpython.
A version is the manifest's (clang@binji-2020) or npm's (clang@8.0.1). Ruby
and Pyodide are not published as packages: use upstream's publisher for them.

The Worker trusts only the catalog whose SHA-256 is in its
vars.NIMBUS_RUNTIME_CATALOG_SHA256. --write-config puts it into
wrangler.jsonc (comments kept); redeploy afterwards. An interrupted sync
leaves the published catalog as it was; rerun it to finish.

--env NAME reads env.NAME of wrangler.jsonc as 'wrangler deploy --env NAME'
deploys it, as 'setup cloudflare --env' does: the bucket it binds as
NIMBUS_RUNTIME_CACHE and its pin (wrangler does not inherit r2_buckets and
vars), its account_id (else the top level's); --write-config writes the pin
into env.NAME.vars. An environment the file does not define is refused.

stdout: the line NIMBUS_RUNTIME_CATALOG_SHA256=<digest>, then (with --json, or
when stdout is not a terminal) one JSON object {"ok","bucket","runtimes",
"catalogSha256","uploaded","skipped","downloaded","cacheFreed",...}. --json
prints only the object. The token needs "Workers R2 Storage Write".
On a terminal, stderr shows each verified package, download and upload bars
and a summary (--quiet hides them, as for 'sandbox cp'); warnings and the
advice on the pin are printed either way.

The cache keeps, per runtime, the tarballs a sync used and the most recently
used others up to 2 (--cache-keep, NIMBUS_RUNTIME_CACHE_KEEP or
runtime_cache_keep in nimbus.yaml; setup cloudflare reads the last two); a
sync that published removes the rest (cacheFreed counts them), unless another
sync is reading the cache. A dry run removes nothing.`,
		Example: `  # CLOUDFLARE_API_TOKEN exported (docs/setup.md says which permissions it needs)
  nimbus runtime sync --write-config
  nimbus runtime sync clang@binji-2020 python --bucket my-runtime-cache
  nimbus runtime sync --dry-run --json
  # keep only the version in use on a small disk (a laptop, a CI cache)
  nimbus runtime sync --cache-keep 1
  # the staging Worker of wrangler.jsonc (env.staging): its bucket, the pin in env.staging.vars
  nimbus runtime sync --env staging --write-config
  # from a private mirror (the token never on the command line)
  NPM_CONFIG_REGISTRY=https://npm.example.com/ NIMBUS_NPM_TOKEN_FILE=~/.npm-token nimbus runtime sync`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSync(cmd, f, &o, args)
		},
		// The runtimes published as packages, not file names: a shell
		// offered the current directory's files for a runtime.
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			var left []string
			for _, r := range runtimeNames() {
				if !slices.Contains(args, r) {
					left = append(left, r)
				}
			}
			return left, cobra.ShellCompDirectiveNoFileComp
		},
	}
	o.cf.register(cmd)
	fl := cmd.Flags()
	fl.StringSliceVar(&o.runtimes, "runtimes", nil, "runtimes to sync, comma-separated (repeatable; default clang,cpython,bash)")
	cmdutil.CompleteWords(cmd, "runtimes", runtimeNames()...)
	fl.StringVar(&o.writeConfig, "write-config", "", "set vars."+runtimecli.PinVar+" in the wrangler config (--write-config=`PATH`; default ./wrangler.jsonc)")
	fl.Lookup("write-config").NoOptDefVal = defaultWranglerConfig
	fl.BoolVar(&o.dryRun, "dry-run", false, "resolve, download and verify, then show what would be uploaded; no write request")
	fl.BoolVarP(&o.quiet, "quiet", "q", false, "show no progress")
	fl.Int("cache-keep", runtimesync.DefaultKeep, "tarballs of each runtime the local cache keeps (NIMBUS_RUNTIME_CACHE_KEEP, runtime_cache_keep)")
	return cmd
}

func runSync(cmd *cobra.Command, f *cmdutil.Factory, o *syncOptions, args []string) error {
	ios := f.IOStreams
	if err := o.cf.refuseEmpty(cmd, cmdutil.EmptyFlag{Name: "write-config", Hint: "name the wrangler config (--write-config=infra/wrangler.jsonc), or give --write-config alone for ./wrangler.jsonc"}); err != nil {
		return err
	}
	// Trimmed, and each runtime once however often it was named.
	var specs []string
	for _, s := range append(append([]string{}, args...), o.runtimes...) {
		if s = strings.TrimSpace(s); !slices.Contains(specs, s) {
			specs = append(specs, s)
		}
	}
	cfgPath, named := defaultWranglerConfig, o.writeConfig != ""
	if named {
		cfgPath = o.writeConfig
	}
	wf, _, err := readWrangler(cfgPath, named, o.cf.env)
	if err != nil {
		return err
	}
	// Refuse bad requests before any credential or network use.
	for _, s := range specs {
		if strings.HasSuffix(s, ".jsonc") || strings.HasSuffix(s, ".json") || strings.HasSuffix(s, ".toml") {
			return clierr.Usagef("%q is not a runtime", s).WithHint("a config path needs the = form: --write-config=" + s)
		}
		if _, err := runtimesync.ParseRequest(s); err != nil {
			return runtimecli.CLIError(err)
		}
	}
	if named {
		// A file that cannot take the pin fails now, not after the catalog
		// is published with nothing to record its digest.
		if _, err := runtimesync.WriteEnvPin(cfgPath, o.cf.env, strings.Repeat("0", 64), true); err != nil {
			return runtimecli.CLIError(err)
		}
	}
	keep, err := runtimecli.CacheKeep(f, cmd.Flags().Lookup("cache-keep"))
	if err != nil {
		return err
	}
	// A runtime no package publishes (a misspelt name) is refused before
	// the Cloudflare token is asked for: the registry alone says so.
	// What it fetched, the sync uses: each packument is fetched once.
	var fetched runtimesync.Packuments
	if len(specs) > 0 {
		reg, err := runtimecli.Registry(f)
		if err != nil {
			return err
		}
		if fetched, err = runtimesync.CheckNames(cmd.Context(), reg, specs); err != nil {
			return runtimecli.CLIError(err)
		}
	}
	t, err := resolveTarget(cmd, f, &o.cf, wf)
	if err != nil {
		return err
	}
	shown := specs
	if len(shown) == 0 {
		shown = runtimesync.DefaultRuntimes
	}
	if !f.JSON { // with --json, stderr carries JSON objects only
		fmt.Fprintf(ios.ErrOut, "nimbus: syncing runtimes [%s] → r2://%s\n", strings.Join(shown, ", "), t.bucket)
	}
	// --quiet silences the view as --json does; its warnings are then
	// printed as lines below.
	view := runtimecli.NewView(ios, f.JSON || o.quiet)
	s, err := runtimecli.Syncer(f, t.client, t.accountID, t.bucket, keep, view)
	if err != nil {
		return err
	}
	started := time.Now()
	res, err := s.Sync(cmd.Context(), runtimesync.Options{Runtimes: specs, DryRun: o.dryRun, Packuments: fetched})
	view.Close()
	if err != nil {
		return runtimecli.CLIError(err)
	}
	if !f.JSON && !view.Active() {
		// The view drew them on a terminal; a log (stderr redirected) gets
		// them as lines, whether or not stdout's JSON carries them too.
		for _, w := range res.Warnings {
			fmt.Fprintf(ios.ErrOut, "nimbus: warning: %s\n", w)
		}
	}
	var cfg *runtimecli.ConfigJSON
	if named {
		st, err := runtimesync.WriteEnvPin(cfgPath, o.cf.env, res.CatalogSHA256, o.dryRun)
		if err != nil {
			// The file changed since the check above. The catalog is
			// published: the digest to set by hand is in the message,
			// which CI sees even without the hint.
			if e, ok := runtimesync.AsError(err); ok && !o.dryRun {
				e.Message = fmt.Sprintf("published catalog %s, but could not pin it: %s", res.CatalogSHA256, e.Message)
			}
			return runtimecli.CLIError(err)
		}
		cfg = &runtimecli.ConfigJSON{Path: cfgPath, Status: string(st)}
	}
	if wf != nil {
		if bound := wf.Bucket(scaffold.BindingRuntimeCache); bound != "" && bound != t.bucket {
			msg := fmt.Sprintf("%s binds %s to r2://%s, not r2://%s: that Worker reads another bucket, where this pin does not apply",
				o.cf.configName(cfgPath), scaffold.BindingRuntimeCache, bound, t.bucket)
			res.Warnings = append(res.Warnings, msg)
			if f.JSON {
				f.Warn(&clierr.Warning{Code: runtimecli.WarnPinBucket, Message: msg})
			} else {
				fmt.Fprintf(ios.ErrOut, "nimbus: warning: %s\n", msg)
			}
		}
	}
	if !o.dryRun && !f.JSON {
		fmt.Fprintf(ios.Out, "%s=%s\n", runtimecli.PinVar, res.CatalogSHA256)
	}
	if f.MachineOutput() {
		if err := f.PrintJSON(runtimecli.SyncJSON(res, cfg)); err != nil {
			return err
		}
	}
	advise(f, o, res, cfg, wf, time.Since(started))
	return nil
}

// advise tells the user on stderr what the digest means for their Worker.
// With --json, stderr carries JSON objects only: what stdout's object says
// already (the plan, the config status) is not repeated, and a Worker left
// without the pin is a JSON warning.
func advise(f *cmdutil.Factory, o *syncOptions, res *runtimesync.Result, cfg *runtimecli.ConfigJSON, wf *wranglerfile.File, took time.Duration) {
	ios := f.IOStreams
	if f.JSON {
		pinned := cfg != nil
		if wf != nil && !pinned {
			v, _ := wf.Var(runtimecli.PinVar)
			pinned = v == res.CatalogSHA256
		}
		if !o.dryRun && !pinned {
			f.Warn(&clierr.Warning{Code: runtimecli.WarnPinMissing,
				Message: fmt.Sprintf("the Worker that binds r2://%s must carry \"vars\": { \"%s\": \"%s\" }; redeploy it after changing the value",
					res.Bucket, runtimecli.PinVar, res.CatalogSHA256),
				Hint: o.cf.writeConfigCmd() + " sets it in wrangler.jsonc"})
		}
		return
	}
	st := ios.Styles()
	w := ios.ErrOut
	if o.dryRun {
		what := fmt.Sprintf("%d objects (%s)", len(res.Planned), progress.Bytes(sum(res.Planned)))
		if ios.IsStderrTTY() {
			for _, p := range res.Planned {
				fmt.Fprintf(w, "  %s %s\n", st.Muted("would upload"), p.Key+" "+st.Muted("("+progress.Bytes(p.Size)+")"))
			}
		}
		fmt.Fprintf(w, "nimbus: dry run: would upload %s to r2://%s; the catalog would be %s\n", what, res.Bucket, res.CatalogSHA256)
		if cfg != nil && cfg.Status == string(runtimesync.PinPlanned) {
			fmt.Fprintf(w, "nimbus: dry run: would set %s in %s\n", runtimecli.PinVar, cfg.Path)
		}
		return
	}
	if ios.IsStderrTTY() && !o.quiet {
		fmt.Fprintf(w, "%s published catalog %s to r2://%s %s\n", st.SuccessIcon(), st.Key(res.CatalogSHA256[:12]), res.Bucket,
			st.Muted(fmt.Sprintf("(%d uploaded, %s; %d already there; %s)", res.Uploaded.Objects, progress.Bytes(res.Uploaded.Bytes), res.Skipped.Objects, took.Round(100*time.Millisecond))))
	}
	if n := res.CacheFreed.Objects; n > 0 {
		fmt.Fprintf(w, "nimbus: removed %d runtime %s no longer used from the cache (%s freed)\n",
			n, plural(n, "tarball", "tarballs"), progress.Bytes(res.CacheFreed.Bytes))
	}
	switch res.CacheSkipped {
	case runtimesync.CacheBusy:
		fmt.Fprintln(w, "nimbus: note: runtime tarballs no longer used were not removed from the cache: another sync is using it; a later sync removes them")
	case runtimesync.CacheLockUnavailable:
		fmt.Fprintln(w, "nimbus: note: runtime tarballs no longer used were not removed from the cache: its lock file cannot be used; a later sync that can lock it removes them")
	}
	switch {
	case cfg != nil && cfg.Status == string(runtimesync.PinUpdated):
		fmt.Fprintf(w, "nimbus: wrote %s=%s into %s; redeploy the Worker (%s) for it to take effect.\n", runtimecli.PinVar, res.CatalogSHA256, o.cf.configName(cfg.Path), o.cf.deployCmd())
	case cfg != nil:
		fmt.Fprintf(w, "nimbus: %s already pins this catalog; nothing to redeploy.\n", o.cf.configName(cfg.Path))
	default:
		if wf != nil {
			if v, _ := wf.Var(runtimecli.PinVar); v == res.CatalogSHA256 {
				fmt.Fprintf(w, "nimbus: %s already pins this catalog; nothing to redeploy.\n", o.cf.configName(defaultWranglerConfig))
				return
			}
		}
		fmt.Fprintf(w, "nimbus: the Worker that binds r2://%s must carry\n  \"vars\": { \"%s\": \"%s\" }\n  (%s sets it in wrangler.jsonc). Redeploy it after changing the value.\n",
			res.Bucket, runtimecli.PinVar, res.CatalogSHA256, o.cf.writeConfigCmd())
	}
}

func sum(objs []runtimesync.Object) int64 {
	var n int64
	for _, o := range objs {
		n += o.Size
	}
	return n
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// runtimeNames are the runtimes a sync can publish, as completion offers
// them: the default set and python, the alias the Worker resolves to
// cpython.
func runtimeNames() []string {
	return append(slices.Clone(runtimesync.DefaultRuntimes), "python")
}
