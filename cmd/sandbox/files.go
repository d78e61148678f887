package sandbox

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

func newCmdFiles(o *common) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "files",
		Short: "Read, write and list files in a sandbox",
		Long: `Read, write and list files in a sandbox. Relative paths are resolved against
--root (default /home/user). Transfers are binary-safe; reads above 28 MiB are
fetched in chunks, and one write is limited to 20 MiB.`,
	}
	cmdutil.MakeGroup(cmd)
	cmd.AddCommand(newCmdFilesRead(o), newCmdFilesWrite(o), newCmdFilesLs(o), newCmdFilesStat(o), newCmdFilesMkdir(o), newCmdFilesRm(o))
	return cmd
}

func (o *common) path(p string) string { return sandboxclient.ResolvePath(o.root, p) }

func newCmdFilesRead(o *common) *cobra.Command {
	return &cobra.Command{
		Use:   "read ID PATH",
		Short: "Write a file's bytes to stdout",
		Args:  cmdutil.ExactArgs(2, "ID and PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, err := o.open(cmd, args[0], scopesUse)
			if err != nil {
				return err
			}
			_, err = sb.ReadFileTo(cmd.Context(), o.path(args[1]), o.f.IOStreams.Out)
			return sandboxcli.Error(err)
		},
	}
}

func newCmdFilesWrite(o *common) *cobra.Command {
	var from string
	cmd := &cobra.Command{
		Use:   "write ID PATH [--from LOCAL|-]",
		Short: "Write a file from a local file or stdin",
		Long: `Write a file in the sandbox from --from LOCAL, or from standard input (the
default, or "-"). Missing parent directories are created. The content is sent
as bytes, so binary files are safe.`,
		Args: cmdutil.ExactArgs(2, "ID and PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, err := o.open(cmd, args[0], scopesUse)
			if err != nil {
				return err
			}
			var dst string
			var size int64
			if from == "" || from == "-" {
				dst, size, err = transfer.WriteReader(cmd.Context(), sb, args[1], o.f.IOStreams.In, transfer.Options{PartSize: o.writeLimitBytes})
			} else {
				dst, size, err = transfer.WriteLocalFile(cmd.Context(), sb, args[1], from, transfer.Options{PartSize: o.writeLimitBytes})
			}
			if err != nil {
				return sandboxcli.Error(err)
			}
			result := map[string]any{"path": dst, "bytes": size}
			if o.f.JSON {
				return cmdutil.WriteJSON(o.f.IOStreams.Out, result)
			}
			if o.f.IOStreams.IsStderrTTY() {
				st := o.f.IOStreams.Styles()
				fmt.Fprintf(o.f.IOStreams.ErrOut, "%s Wrote %d bytes to %s\n", st.SuccessIcon(), size, dst)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "read the content from `LOCAL` (\"-\" or empty: stdin)")
	return cmd
}

func newCmdFilesLs(o *common) *cobra.Command {
	return &cobra.Command{
		Use:   "ls ID [PATH]",
		Short: "List a directory (default: the root)",
		Args:  cmdutil.RangeArgs(1, 2, "ID and an optional PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, err := o.open(cmd, args[0], scopesUse)
			if err != nil {
				return err
			}
			dir := o.root
			if len(args) == 2 {
				dir = o.path(args[1])
			}
			ents, err := sb.ReadDir(cmd.Context(), dir)
			if err != nil {
				return sandboxcli.Error(err)
			}
			return o.output(ents, func() error {
				st := o.f.IOStreams.Styles()
				var b strings.Builder
				for _, e := range ents {
					if e.Type == "directory" {
						b.WriteString(st.Bold(e.Name+"/") + "\n")
					} else {
						b.WriteString(e.Name + "\n")
					}
				}
				_, err := io.WriteString(o.f.IOStreams.Out, b.String())
				return err
			})
		},
	}
}

func newCmdFilesStat(o *common) *cobra.Command {
	return &cobra.Command{
		Use:   "stat ID PATH",
		Short: "Show a file's type, size, mode and times",
		Args:  cmdutil.ExactArgs(2, "ID and PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, err := o.open(cmd, args[0], scopesUse)
			if err != nil {
				return err
			}
			p := o.path(args[1])
			st, err := sb.Stat(cmd.Context(), p)
			if err != nil {
				return sandboxcli.Error(err)
			}
			if st == nil {
				return clierr.New(exitcode.DataErr, "ENOENT", p+": no such file or directory", "check the path; relative paths are resolved against --root")
			}
			return o.output(st, func() error {
				_, err := fmt.Fprintf(o.f.IOStreams.Out, "path:  %s\ntype:  %s\nsize:  %d\nmode:  %04o\nmtime: %d\n", p, st.Type, st.Size, st.Mode&0o7777, st.Mtime)
				return err
			})
		},
	}
}

func newCmdFilesMkdir(o *common) *cobra.Command {
	return &cobra.Command{
		Use:   "mkdir ID PATH",
		Short: "Create a directory and its parents",
		Args:  cmdutil.ExactArgs(2, "ID and PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, err := o.open(cmd, args[0], scopesUse)
			if err != nil {
				return err
			}
			return sandboxcli.Error(sb.Mkdir(cmd.Context(), o.path(args[1])))
		},
	}
}

func newCmdFilesRm(o *common) *cobra.Command {
	var recursive bool
	cmd := &cobra.Command{
		Use:   "rm ID PATH [-r]",
		Short: "Remove a file or directory (a missing path is not an error)",
		Args:  cmdutil.ExactArgs(2, "ID and PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, err := o.open(cmd, args[0], scopesUse)
			if err != nil {
				return err
			}
			p := o.path(args[1])
			if p == "/" {
				return clierr.Usagef("refusing to remove /").WithHint("use nimbus sandbox destroy to wipe a sandbox")
			}
			return sandboxcli.Error(sb.DeleteFile(cmd.Context(), p, recursive))
		},
	}
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "remove a directory and its contents")
	return cmd
}
