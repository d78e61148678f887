package sandbox

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/pkg/ignore"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

// transferFlags are the flags every file-moving command shares.
type transferFlags struct {
	parallel   int
	excludes   []string
	noGitignre bool
	includeVCS bool
	dryRun     bool
	quiet      bool
}

func (t *transferFlags) add(fl *pflag.FlagSet, dryRun bool) {
	fl.IntVar(&t.parallel, "parallel", transfer.DefaultParallel, fmt.Sprintf("files (and requests) in flight at once, %d to %d", minParallel, maxParallel))
	fl.StringArrayVar(&t.excludes, "exclude", nil, "leave out paths matching `PATTERN` (gitignore syntax; repeatable)")
	fl.BoolVar(&t.noGitignre, "no-gitignore", false, "do not honour .gitignore files")
	fl.BoolVar(&t.includeVCS, "include-vcs", false, "copy .git directories too")
	fl.BoolVarP(&t.quiet, "quiet", "q", false, "show no progress")
	if dryRun {
		fl.BoolVar(&t.dryRun, "dry-run", false, "list what would be copied, and its total size, without copying")
	}
}

// The range of --parallel: at least one request, and no more than a
// Worker (or nimbus dev) should take from one client at once.
const (
	minParallel = 1
	maxParallel = 64
)

// check validates the flags before anything is sent.
func (t *transferFlags) check() *clierr.Error {
	if t.parallel < minParallel || t.parallel > maxParallel {
		return clierr.Usagef("--parallel %d: use %d to %d", t.parallel, minParallel, maxParallel).
			WithHint(fmt.Sprintf("the default is %d", transfer.DefaultParallel))
	}
	return nil
}

func (t *transferFlags) options(o *common, obs transfer.Observer) transfer.Options {
	opts := transfer.Options{
		Parallel: t.parallel,
		PartSize: o.writeLimitBytes,
		Ignore:   ignore.Options{Excludes: t.excludes, NoGitIgnore: t.noGitignre, IncludeVCS: t.includeVCS},
		DryRun:   t.dryRun,
		Observer: obs,
	}
	if o.lo.enabled {
		// With --local the backend decodes each part inside this process:
		// smaller parts, fewer at once, keep its memory low.
		if opts.PartSize == 0 {
			opts.PartSize = localPartSize
		}
		opts.PartParallel = 2
	}
	return opts
}

// localPartSize is the part size of split writes with --local.
const localPartSize = 4 << 20

// ignoreHelp explains the rules in the help of every command that walks
// trees.
const ignoreHelp = `Ignore rules (directory trees only): .git is always left out (--include-vcs
keeps it); .gitignore files anywhere in the source tree are honoured
(--no-gitignore turns them off); a .nimbusignore file at the root of the source
adds rules of its own; --exclude PATTERN adds more and wins over the files
("!PATTERN" re-includes). All use gitignore syntax.`

func newCmdCp(o *common) *cobra.Command {
	var recursive, mkpath bool
	var tf transferFlags
	cmd := &cobra.Command{
		Use:   "cp [-r] [--mkpath] [--exclude PATTERN]... [--dry-run] SRC DST",
		Short: "Copy files and trees between the local machine and a sandbox",
		Long: `Copy files between the local machine and a sandbox. Exactly one side is
ID:PATH (a relative PATH is resolved against --root). Like cp, copying into an
existing directory puts the source inside it (SRC and SRC/ alike); a source
ending in /. (SRC/., ID:.) copies the contents of the directory instead, as GNU
cp and docker cp do; so does one ending in .. (.., SRC/..), as GNU cp reads it.

The directory the destination goes in must exist, on either side, as with cp,
docker cp and scp: a mistyped destination is refused (E_CP_NO_PARENT, exit 73)
before anything is copied, not made into a new tree. --mkpath creates the
missing directories instead, as rsync --mkpath does. A directory copied with -r
creates its destination directory itself (cp -r dir ID:new makes new); only
new's parent must exist.

Files of any size: above the single-request limit (20 MiB) a file is sent in
parts, joined in the sandbox and checked before it replaces the target, which
stays untouched if anything fails. Big downloads are fetched in parallel
ranges. Downloads are written to a temporary file and renamed into place.

With -r, the source tree is walked first, then copied a few files at a time
(--parallel). A path that cannot be read or copied is reported as it is found
and the copy goes on; at the end every failure is listed and nimbus exits 74.
Symlinks are copied as symlinks with the same link text, never followed;
executable bits are kept, and downloads respect the umask.

` + ignoreHelp + `

On a terminal a progress bar shows files, bytes, rate and ETA on stderr
(--quiet hides it). --json prints the summary as JSON on stdout.`,
		Example: `  nimbus sandbox cp -r ./app job-123:/home/user/app
  nimbus sandbox cp -r --exclude 'dist/' --exclude '*.log' . job-123:app
  nimbus sandbox cp -r --dry-run . job-123:app
  nimbus sandbox cp -r job-123:dist/. ./site
  nimbus sandbox cp job-123:dist/report.html ./report.html
  nimbus sandbox cp --mkpath ./dataset.tar.gz job-123:/home/user/data/2026/`,
		Args: cmdutil.ExactArgs(2, "SRC and DST"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := tf.check(); err != nil {
				return err
			}
			src, dst, sb, label, err := o.openPair(cmd, args)
			if err != nil {
				return err
			}
			prog := sandboxcli.NewProgress(o.f.IOStreams, label, tf.quiet || tf.dryRun, o.f.JSON)
			opts := tf.options(o, prog)
			opts.Recursive = recursive
			opts.MkPath = mkpath
			var sum *transfer.Summary
			if dst.Remote() {
				sum, err = transfer.Upload(cmd.Context(), sb, src.Path, dst.Path, opts)
			} else {
				sum, err = transfer.Download(cmd.Context(), sb, src.Path, dst.Path, opts)
			}
			prog.Close()
			return o.transferResult(sb.ID(), sum, err, tf.quiet)
		},
	}
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "copy directories recursively")
	cmd.Flags().BoolVar(&mkpath, "mkpath", false, "create the destination's missing parent directories")
	tf.add(cmd.Flags(), true)
	return cmd
}

// openPair reads SRC and DST (exactly one of them ID:PATH), opens the
// sandbox and returns the direction's label (↑ upload, ↓ download).
func (o *common) openPair(cmd *cobra.Command, args []string) (src, dst transfer.Target, sb *sandboxclient.Sandbox, label string, err error) {
	src, dst, err = transfer.ParsePair(args[0], args[1])
	if err != nil {
		return src, dst, nil, "", sandboxcli.Error(err)
	}
	id, label := src.SandboxID, "↓"
	if dst.Remote() {
		id, label = dst.SandboxID, "↑"
	}
	sb, err = o.open(cmd, id, scopesUse)
	return src, dst, sb, label, err
}

// transferResult prints a copy's summary (the dry-run listing, the JSON,
// the list of failures) and maps its error, a failure in sandbox id.
func (o *common) transferResult(id string, sum *transfer.Summary, err error, quiet bool) error {
	ios := o.f.IOStreams
	st := ios.Styles()
	var pe *transfer.PartialError
	if err != nil && !errors.As(err, &pe) || sum == nil {
		return o.errorIn(id, err)
	}
	if o.f.JSON {
		if sum.Failures == nil {
			sum.Failures = []transfer.Failure{}
		}
		if werr := o.f.PrintJSON(sum); werr != nil {
			return werr
		}
	} else if sum.DryRun {
		for _, e := range sum.Entries {
			switch e.Type {
			case transfer.TypeFile:
				fmt.Fprintf(ios.Out, "%s\t%d\n", clierr.Printable(e.Rel), e.Size)
			case transfer.TypeDir:
				fmt.Fprintf(ios.Out, "%s/\n", clierr.Printable(e.Rel))
			case transfer.TypeSymlink:
				fmt.Fprintf(ios.Out, "%s -> %s\n", clierr.Printable(e.Rel), clierr.Printable(e.Link))
			}
		}
		fmt.Fprintf(ios.ErrOut, "Would copy %s\n", sandboxcli.CopySummary(sum))
	} else if ios.IsStderrTTY() && !quiet && pe == nil {
		fmt.Fprintf(ios.ErrOut, "%s Copied %s\n", st.SuccessIcon(), sandboxcli.CopySummary(sum))
	}
	if pe != nil {
		if !o.f.JSON {
			fmt.Fprint(ios.ErrOut, sandboxcli.FailureList(st, pe.Failures))
		}
		return o.errorIn(id, err)
	}
	return nil
}
