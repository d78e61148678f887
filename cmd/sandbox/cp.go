package sandbox

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

func newCmdCp(o *common) *cobra.Command {
	var recursive bool
	var parallel int
	cmd := &cobra.Command{
		Use:   "cp [-r] SRC DST",
		Short: "Copy files between the local machine and a sandbox",
		Long: `Copy files between the local machine and a sandbox. Exactly one side is
ID:PATH (a relative PATH is resolved against --root). Like cp, copying into an
existing directory puts the source inside it. With -r, directory trees are
walked, parent directories created, files moved a few at a time (--parallel),
and executable bits kept. Downloads are written to a temporary file and renamed,
so a failed copy never leaves a partial file. Progress is shown on a terminal.`,
		Example: `  nimbus sandbox cp -r ./app job-123:/home/user/app
  nimbus sandbox cp job-123:dist/report.html ./report.html`,
		Args: cmdutil.ExactArgs(2, "SRC and DST"),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, dst, err := transfer.ParsePair(args[0], args[1])
			if err != nil {
				return sandboxcli.Error(err)
			}
			id := src.SandboxID
			if dst.Remote() {
				id = dst.SandboxID
			}
			sb, err := o.open(cmd, id, scopesUse)
			if err != nil {
				return err
			}
			ios := o.f.IOStreams
			opts := transfer.Options{Recursive: recursive, Parallel: parallel}
			if ios.IsStderrTTY() && !o.f.JSON {
				st := ios.Styles()
				opts.Observer = transfer.ObserverFuncs{OnEvent: func(e transfer.Event) {
					arrow, from, to := "↑", e.Local, e.Remote
					if !e.Upload {
						arrow, from, to = "↓", e.Remote, e.Local
					}
					fmt.Fprintf(ios.ErrOut, "%s %s %s %s\n", st.Muted(arrow), from, st.Muted("→ "+to), st.Muted(fmt.Sprintf("(%d bytes)", e.Bytes)))
				}}
			}
			var sum *transfer.Summary
			if dst.Remote() {
				sum, err = transfer.Upload(cmd.Context(), sb, src.Path, dst.Path, opts)
			} else {
				sum, err = transfer.Download(cmd.Context(), sb, src.Path, dst.Path, opts)
			}
			if err != nil {
				return sandboxcli.Error(err)
			}
			if o.f.JSON {
				return cmdutil.WriteJSON(ios.Out, sum)
			}
			if ios.IsStderrTTY() {
				fmt.Fprintf(ios.ErrOut, "%s Copied %s\n", ios.Styles().SuccessIcon(), sum)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "copy directories recursively")
	cmd.Flags().IntVar(&parallel, "parallel", transfer.DefaultParallel, "files in flight at once")
	return cmd
}
