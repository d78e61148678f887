package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

func newCmdSync(o *common) *cobra.Command {
	var (
		tf     transferFlags
		del    bool
		watchF bool
	)
	cmd := &cobra.Command{
		Use:   "sync [--delete] [--watch] [--exclude PATTERN]... SRC ID:DEST | ID:SRC DEST",
		Short: "Make a directory mirror another, copying only what changed",
		Long: `Make DEST mirror the contents of the directory SRC, like rsync with a trailing
slash on SRC. Exactly one side is ID:PATH (a relative PATH is resolved against
--root); both directions work.

Only files whose size or content differ are copied: files with the same size
and modification time are skipped, and files of the same size whose times
differ are compared by a sha256 computed in the sandbox. Unchanged files are
never rewritten. Copied files get the source's modification time, so the next
sync recognises them at once. --delete removes destination entries the source
no longer has (never those the ignore rules leave out: build outputs and the
local .git stay); when any path of either side could not be listed, nothing is
deleted ("IO error: skipping deletion", "deletionsSkipped":true in --json),
as rsync does, since a path missing from a partial listing is not a path the
source lacks. --watch keeps syncing local changes to the sandbox until
interrupted.

` + ignoreHelp + `

--dry-run lists on stdout what would be copied ("PATH\tSIZE", a directory
"PATH/") and deleted ("deleting PATH"), destination paths, and changes nothing.

On a terminal a summary is printed at the end (with --watch, after every
round): files copied, skipped, deleted and bytes; --json prints it as
{"copied":N,"skipped":N,"deleted":N,"bytes":N}. Paths that fail are listed
and nimbus exits 74 once everything else is done.`,
		Example: `  nimbus sandbox sync . job-123:app
  nimbus sandbox sync --delete --exclude 'tmp/' . job-123:app
  nimbus sandbox sync --watch . job-123:app
  nimbus sandbox sync job-123:app/dist ./dist
  nimbus sandbox sync --dry-run --delete . job-123:app`,
		Args: cmdutil.ExactArgs(2, "SRC and DEST"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := tf.check(); err != nil {
				return err
			}
			if watchF && tf.dryRun {
				return clierr.Usagef("--watch and --dry-run cannot be combined")
			}
			if watchF && !transfer.ParseTarget(args[1]).Remote() {
				return clierr.Usagef("--watch syncs local changes to a sandbox: the destination must be ID:PATH")
			}
			src, dst, sb, label, err := o.openPair(cmd, args)
			if err != nil {
				return err
			}
			ios := o.f.IOStreams
			if watchF {
				return o.watch(cmd.Context(), sb, src.Path, dst.Path, tf, del)
			}
			prog := sandboxcli.NewProgress(ios, label, tf.quiet || tf.dryRun, o.f.JSON)
			var obs transfer.Observer = prog
			plan := &dryRunList{Observer: prog}
			if tf.dryRun && !o.f.JSON {
				obs = plan
			}
			opts := transfer.SyncOptions{Options: tf.options(o, obs), Delete: del}
			var sum *transfer.SyncSummary
			if dst.Remote() {
				sum, err = transfer.SyncUp(cmd.Context(), sb, src.Path, dst.Path, opts)
			} else {
				sum, err = transfer.SyncDown(cmd.Context(), sb, src.Path, dst.Path, opts)
			}
			prog.Close()
			plan.print(ios.Out, dst.Remote())
			return o.syncResult(sb.ID(), sum, err, tf.quiet, false)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&del, "delete", false, "remove destination entries the source no longer has")
	fl.BoolVar(&watchF, "watch", false, "keep syncing local changes until interrupted")
	tf.add(fl, true)
	return cmd
}

// dryRunList collects what a dry run would copy and delete, to list it
// on stdout as cp --dry-run does: "PATH\tSIZE" (a directory "PATH/") for
// each copy, "deleting PATH" for each deletion, destination paths.
type dryRunList struct {
	transfer.Observer
	mu     sync.Mutex
	events []transfer.Event
}

func (d *dryRunList) Event(e transfer.Event) {
	if e.Kind == transfer.Planned || e.Kind == transfer.Deleted {
		d.mu.Lock()
		d.events = append(d.events, e)
		d.mu.Unlock()
	}
	d.Observer.Event(e)
}

func (d *dryRunList) print(w io.Writer, upload bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, e := range d.events {
		p := e.Local
		if upload {
			p = e.Remote
		}
		p = clierr.Printable(p)
		switch {
		case e.Kind == transfer.Deleted:
			fmt.Fprintf(w, "deleting %s\n", p)
		case e.Type == transfer.TypeDir:
			fmt.Fprintf(w, "%s/\n", p)
		case e.Type == transfer.TypeFile:
			fmt.Fprintf(w, "%s\t%d\n", p, e.Bytes)
		default:
			fmt.Fprintf(w, "%s\n", p)
		}
	}
}

// syncResult prints one sync's summary and maps its error. The rounds of
// a watch are NDJSON (one compact line each); one sync prints one document.
// The sync is of sandbox id.
func (o *common) syncResult(id string, sum *transfer.SyncSummary, err error, quiet, round bool) error {
	ios := o.f.IOStreams
	var pe *transfer.PartialError
	if err != nil && !errors.As(err, &pe) || sum == nil {
		return o.errorIn(id, err)
	}
	if o.f.JSON {
		write := o.f.PrintJSON
		if round {
			write = func(v any) error { return sandboxcli.WriteJSONLine(ios.Out, v) }
		}
		if werr := write(sum); werr != nil {
			return werr
		}
	} else if !quiet && (ios.IsStderrTTY() || sum.DryRun) {
		// As cp's: a summary for a person at a terminal, and the answer
		// a dry run was asked for; a script reads --json instead.
		verb := "Synced"
		if sum.DryRun {
			verb = "Would sync"
		}
		icon := ios.Styles().SuccessIcon()
		if pe != nil {
			icon = ios.Styles().FailureIcon()
		}
		fmt.Fprintf(ios.ErrOut, "%s %s: %s\n", icon, verb, sandboxcli.SyncSummary(sum))
	}
	if pe != nil {
		if !o.f.JSON {
			fmt.Fprint(ios.ErrOut, sandboxcli.FailureList(ios.Styles(), pe.Failures))
		}
		return o.errorIn(id, err)
	}
	return nil
}

// watch runs sync rounds until interrupted; a round's failures are shown
// and the watch goes on. Interrupting an idle watch is its normal end
// (exit 0).
func (o *common) watch(ctx context.Context, sb *sandboxclient.Sandbox, local, remote string, tf transferFlags, del bool) error {
	ios := o.f.IOStreams
	st := ios.Styles()
	prog := sandboxcli.NewProgress(ios, "↑", true, o.f.JSON)
	defer prog.Close()
	opts := transfer.WatchOptions{
		SyncOptions: transfer.SyncOptions{Options: tf.options(o, prog), Delete: del},
		Round: func(sum *transfer.SyncSummary, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			if rerr := o.syncResult(sb.ID(), sum, err, tf.quiet, true); rerr != nil {
				var ce *clierr.Error
				if errors.As(rerr, &ce) {
					clierr.Render(ios.ErrOut, ce, clierr.RenderOptions{TTY: ios.IsStderrTTY(), JSON: o.f.JSON, CommandPath: "nimbus sandbox sync", Styles: st})
				}
			}
		},
	}
	if !tf.quiet && !o.f.JSON && ios.IsStderrTTY() {
		fmt.Fprintf(ios.ErrOut, "%s Watching %s for changes (Ctrl-C to stop)\n", st.Muted("…"), local)
	}
	if err := transfer.Watch(ctx, sb, local, remote, opts); err != nil {
		return o.errorIn(sb.ID(), err)
	}
	return nil
}
