package sandbox

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

func newCmdRuntimes(o *common) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runtimes",
		Short: "List and install language runtimes in a sandbox",
		Long: `List and install language runtimes (node, python, ruby, clang, …). SPEC is
NAME or NAME@VERSION. The sandbox id comes last, as in
'nimbus sandbox runtimes install python@3.12 job-123'.`,
	}
	cmdutil.MakeGroup(cmd)
	var force bool
	list := &cobra.Command{
		Use:   "list ID",
		Short: "List installed and available runtimes",
		Args:  cmdutil.ExactArgs(1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, err := o.open(cmd, args[0], scopesUse)
			if err != nil {
				return err
			}
			r, err := sb.ListRuntimes(cmd.Context())
			if err != nil {
				return sandboxcli.Error(err)
			}
			return o.output(r, func() error {
				st := o.f.IOStreams.Styles()
				var b strings.Builder
				b.WriteString(st.Bold("INSTALLED") + "\n")
				for _, rt := range r.Installed {
					fmt.Fprintf(&b, "  %-10s %s\n", rt.Name, rt.Version)
				}
				b.WriteString(st.Bold("AVAILABLE") + "\n")
				for _, rt := range r.Available {
					fmt.Fprintf(&b, "  %-10s %s\n", rt.Name, rt.DefaultVersion)
				}
				_, err := fmt.Fprint(o.f.IOStreams.Out, b.String())
				return err
			})
		},
	}
	install := &cobra.Command{
		Use:   "install SPEC ID",
		Short: "Install one runtime",
		Args:  cmdutil.ExactArgs(2, "SPEC and ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, err := o.open(cmd, args[1], scopesUse)
			if err != nil {
				return err
			}
			r, err := sb.InstallRuntime(cmd.Context(), args[0], force)
			if err != nil {
				return sandboxcli.Error(err)
			}
			return o.installed([]sandboxclient.InstallResult{*r}, r)
		},
	}
	install.Flags().BoolVar(&force, "force", false, "reinstall even if present")
	ensure := &cobra.Command{
		Use:   "ensure SPEC... ID",
		Short: "Install the runtimes that are missing",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return clierr.Usagef("expected at least one SPEC and the ID, got %d argument(s)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, err := o.open(cmd, args[len(args)-1], scopesUse)
			if err != nil {
				return err
			}
			rs, err := sb.EnsureRuntimes(cmd.Context(), args[:len(args)-1], force)
			if err != nil {
				return sandboxcli.Error(err)
			}
			return o.installed(rs, rs)
		},
	}
	ensure.Flags().BoolVar(&force, "force", false, "reinstall even if present")
	cmd.AddCommand(list, install, ensure)
	return cmd
}

// installed reports install results; a failed install (an unknown spec or
// version, a failing installer) exits 65 with its output on stderr.
func (o *common) installed(rs []sandboxclient.InstallResult, v any) error {
	ios := o.f.IOStreams
	if err := o.output(v, func() error {
		st := ios.Styles()
		for _, r := range rs {
			if r.ExitCode == 0 {
				fmt.Fprintf(ios.ErrOut, "%s Installed %s\n", st.SuccessIcon(), r.Spec)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	for _, r := range rs {
		if r.ExitCode != 0 {
			if !o.f.MachineOutput() {
				fmt.Fprint(ios.ErrOut, r.Stderr)
			}
			return clierr.New(exitcode.DataErr, "E_RUNTIME_INSTALL", fmt.Sprintf("installing %s failed with exit code %d", r.Spec, r.ExitCode), "check the spec name and version with nimbus sandbox runtimes list ID")
		}
	}
	return nil
}
