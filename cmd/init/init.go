// Package initcmd implements `nimbus init` (the directory is cmd/init; the
// package cannot be called init). It only wires flags and output: rendering,
// planning and writing the project are pkg/scaffold's job.
package initcmd

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/localterm"
	"github.com/nimbus-sh/nimbus/pkg/scaffold"
	"github.com/nimbus-sh/nimbus/templates"
)

type options struct {
	dir           string
	name          string
	template      string
	force         bool
	dryRun        bool
	git           bool
	install       bool
	nimbusVersion string
	bucketPrefix  string
	runtimeCache  string
	runtimeBucket string
	catalogSHA256 string
	compatDate    string
}

// NewCmdInit returns `nimbus init [dir]`.
func NewCmdInit(f *cmdutil.Factory) *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "init [dir]",
		Short: "Scaffold a deployable Nimbus Worker project",
		Long: `Scaffold a Nimbus Worker project that 'npm install && npx wrangler deploy'
turns into a working Nimbus deployment: package.json, wrangler.jsonc,
tsconfig.json, README.md, .gitignore and src/index.ts.

The directory (default: the current one) may be missing or empty. A non-empty
directory is refused (exit 73) unless --force is given; --force overwrites only
the files listed above and never deletes anything. Files are written atomically
and a failure removes everything this run created.

The Worker name (--name, default: the directory name) must be 1-63 lowercase
letters, digits and '-'; it is also the package.json name, so a directory
named MyProject works with --name my-project. It prefixes the R2 buckets
<prefix>-npm-cache and <prefix>-npm-packument-cache (--bucket-prefix), which
limits it to 43 characters unless a shorter prefix is given.

When stdout is not a terminal, or with --json, stdout gets one JSON line
{"ok":true,"path":...,"nextSteps":[...]}; the human summary goes to stderr.`,
		Example: `  nimbus init my-worker
  nimbus init . --name acme-sandbox --git
  nimbus init my-worker --runtime-cache byoa --bucket-prefix acme --dry-run`,
		Args: cmdutil.MaximumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := refuseEmpty(cmd); err != nil {
				return err
			}
			o.dir = "."
			if len(args) == 1 {
				o.dir = args[0]
			}
			return run(cmd.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.name, "name", "", "deployed Worker and package `name` (default: the directory name)")
	fl.StringVar(&o.template, "template", templates.Default, "project `template` (worker-only)")
	fl.BoolVar(&o.force, "force", false, "write into a non-empty directory, overwriting only the scaffold's files")
	fl.BoolVar(&o.dryRun, "dry-run", false, "show what would be written and change nothing")
	fl.BoolVar(&o.git, "git", false, "initialise a git repository and commit the files (when git is installed)")
	fl.BoolVar(&o.install, "install", false, "run 'npm install' afterwards (when npm is installed)")
	fl.StringVar(&o.nimbusVersion, "nimbus-version", "", "npm version `range` for the @nimbus-sh packages (default: the versions this nimbus was built with)")
	fl.StringVar(&o.bucketPrefix, "bucket-prefix", "", "`prefix` of the npm cache R2 buckets (default: the Worker name)")
	fl.StringVar(&o.runtimeCache, "runtime-cache", string(scaffold.RuntimeCacheShared), "runtime cache `mode`: shared (nimbus-runtime-cache-public) or byoa (<prefix>-runtime-cache)")
	cmdutil.CompleteWords(cmd, "runtime-cache", string(scaffold.RuntimeCacheShared), string(scaffold.RuntimeCacheBYOA))
	cmdutil.CompleteWords(cmd, "template", templates.Default)
	fl.StringVar(&o.runtimeBucket, "runtime-bucket", "", "explicit runtime cache `bucket` (overrides --runtime-cache)")
	fl.StringVar(&o.catalogSHA256, "runtime-catalog-sha256", "", "pin the runtime catalog (`digest` printed by 'nimbus runtime sync')")
	fl.StringVar(&o.compatDate, "compatibility-date", "", "Workers compatibility `date` YYYY-MM-DD (default "+scaffold.DefaultCompatibilityDate+")")
	return cmd
}

// refuseEmpty refuses the flags given empty (--name "$NAME" with NAME
// unset): each has a default that leaving it out gives, and an empty
// value silently meant that default (the directory's name for --name, an
// unpinned catalog for --runtime-catalog-sha256).
func refuseEmpty(cmd *cobra.Command) error {
	return cmdutil.RefuseEmpty(cmd,
		cmdutil.EmptyFlag{Name: "name", Hint: "give the Worker name, e.g. --name my-worker, or leave --name out to use the directory's name"},
		cmdutil.EmptyFlag{Name: "template", Hint: "leave --template out for " + templates.Default},
		cmdutil.EmptyFlag{Name: "nimbus-version", Hint: "give an npm version range, e.g. --nimbus-version ^1.2.0, or leave it out for the versions this nimbus was built with"},
		cmdutil.EmptyFlag{Name: "bucket-prefix", Hint: "give the prefix, e.g. --bucket-prefix acme, or leave it out to use the Worker name"},
		cmdutil.EmptyFlag{Name: "runtime-cache", Hint: "use --runtime-cache shared or --runtime-cache byoa, or leave it out for shared"},
		cmdutil.EmptyFlag{Name: "runtime-bucket", Hint: "name the bucket, or leave --runtime-bucket out to use --runtime-cache's"},
		cmdutil.EmptyFlag{Name: "runtime-catalog-sha256", Hint: "give the digest 'nimbus runtime sync' printed, or leave the flag out for an unpinned catalog"},
		cmdutil.EmptyFlag{Name: "compatibility-date", Hint: "give a date, e.g. --compatibility-date " + scaffold.DefaultCompatibilityDate + ", or leave it out for that default"},
	)
}

func run(ctx context.Context, f *cmdutil.Factory, o *options) error {
	cwd, err := os.Getwd()
	if err != nil {
		return ioError(err, "cannot determine the current directory")
	}
	// filepath.Abs, not IsAbs then Join(cwd): on Windows "C:app" (relative
	// to drive C's current directory) became "D:\work\C:app", and "\app"
	// ignored the drive; Abs asks Windows, which knows each drive's.
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return ioError(err, "cannot determine the current directory")
	}

	// The name checked is the name used: --name when given, so a directory
	// name npm would refuse (capitals) does not matter then.
	projectName := filepath.Base(dir)
	if o.name != "" {
		projectName = o.name
	}
	project, err := scaffold.Render(scaffold.Options{
		Template:      o.template,
		ProjectName:   projectName,
		NimbusVersion: o.nimbusVersion,
		Wrangler: scaffold.WranglerOptions{
			Name:                 o.name,
			CompatibilityDate:    o.compatDate,
			R2BucketPrefix:       o.bucketPrefix,
			RuntimeCache:         scaffold.RuntimeCache{Mode: scaffold.RuntimeCacheMode(o.runtimeCache), Bucket: o.runtimeBucket},
			RuntimeCatalogSHA256: o.catalogSHA256,
		},
	})
	if err != nil {
		return toCLIError(err)
	}
	plan, err := scaffold.NewPlan(ctx, dir, project, scaffold.PlanOptions{Force: o.force})
	if err != nil {
		return toCLIError(err)
	}
	out := newReport(f, project, plan, cwd)
	if o.dryRun {
		return out.dryRun()
	}
	res, err := scaffold.Apply(ctx, plan, scaffold.ApplyOptions{})
	if err != nil {
		return toCLIError(err)
	}
	out.result = res

	if sigs := localterm.HangupSignals(); len(sigs) > 0 && (o.git || o.install) {
		// git and npm run in a process group of their own (so that
		// their children can be stopped with them), which a closing
		// terminal's SIGHUP does not reach: without this, the hangup
		// would end nimbus alone and leave npm and its install scripts
		// running. Ended like Ctrl-C, they are stopped (130).
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, sigs...)
		defer stop()
	}
	if o.git {
		// Commit every project file, including ones that were already identical.
		files := append(append([]string{}, res.Written...), res.Unchanged...)
		skipped, err := scaffold.InitGit(ctx, dir, scaffold.GitOptions{Files: files, Output: f.IOStreams.ErrOut})
		if err := out.step(&out.git, "git", "committed", skipped, err); err != nil {
			return err
		}
	}
	if o.install {
		err := scaffold.Install(ctx, dir, f.IOStreams.ErrOut, nil)
		if err := out.step(&out.install, "npm install", "done", "", err); err != nil {
			return err
		}
	}
	return out.done()
}

// toolMissing reports whether err says an optional tool is not installed.
func toolMissing(err error) bool {
	var se *scaffold.Error
	return errors.As(err, &se) && se.Code == scaffold.CodeToolMissing
}
