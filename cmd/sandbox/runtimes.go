package sandbox

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/shellquote"
	"github.com/nimbus-sh/nimbus/internal/table"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

func newCmdRuntimes(o *common) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runtimes",
		Short: "List and install language runtimes in a sandbox",
		Long: `List and install language runtimes (node, python, ruby, clang, …). SPEC is
NAME or NAME@VERSION. The sandbox id comes first, as in every sandbox command:
'nimbus sandbox runtimes install job-123 python@3.12'.`,
		Example: `  nimbus sandbox runtimes list job-123
  nimbus sandbox runtimes ensure job-123 node@22 python@3.12
  nimbus sandbox runtimes install job-123 python@3.12`,
	}
	cmdutil.MakeGroup(cmd)
	var force bool
	list := &cobra.Command{
		Use:     "list ID",
		Short:   "List installed and available runtimes",
		Example: "  nimbus sandbox runtimes list job-123\n  nimbus sandbox runtimes list job-123 --json | jq -r '.installed[].name'",
		Args:    cmdutil.ExactArgs(1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, err := o.open(cmd, args[0], scopesUse)
			if err != nil {
				return err
			}
			r, err := sb.ListRuntimes(cmd.Context())
			if err != nil {
				return o.errorIn(sb.ID(), err)
			}
			return o.output(r, func() error {
				ios := o.f.IOStreams
				st := ios.Styles()
				// An empty section says so on stderr, as ps and apps list
				// do, instead of a heading over nothing (the local backend
				// never has runtimes to install).
				if len(r.Installed) == 0 {
					msg := "No runtimes installed"
					if len(r.Available) > 0 {
						msg += ": " + o.hints(sb.ID()).OnSandbox(func(arg string) string { return "install one with nimbus sandbox runtimes install " + arg + " NAME" })
					}
					if _, err := fmt.Fprintln(ios.ErrOut, st.Muted(msg)); err != nil {
						return err
					}
				} else {
					var t table.Table
					t.Line(st.Bold("INSTALLED"))
					for _, rt := range r.Installed {
						t.Row(nil, "", sandboxcli.DisplayText(rt.Name), sandboxcli.DisplayText(rt.Version))
					}
					if _, err := t.WriteTo(ios.Out); err != nil {
						return err
					}
				}
				if len(r.Available) == 0 {
					_, err := fmt.Fprintln(ios.ErrOut, st.Muted("No runtimes available to install"))
					return err
				}
				var t table.Table
				t.Line(st.Bold("AVAILABLE"))
				for _, rt := range r.Available {
					t.Row(nil, "", sandboxcli.DisplayText(rt.Name), sandboxcli.DisplayText(rt.DefaultVersion))
				}
				_, err := t.WriteTo(ios.Out)
				return err
			})
		},
	}
	install := &cobra.Command{
		Use:   "install ID SPEC...",
		Short: "Install runtimes, in order (--force reinstalls)",
		Long: `Install each SPEC (NAME or NAME@VERSION) in sandbox ID, in order, stopping at
the first failure. The old order 'install SPEC ID' still works, with a warning,
when SPEC has a version ('python@3.12'): a sandbox id never contains '@'.`,
		Example: `  nimbus sandbox runtimes install job-123 python@3.12
  nimbus sandbox runtimes install job-123 node python --force`,
		Args: runtimeArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, specs := o.runtimeArgs(cmd, args)
			sb, err := o.open(cmd, id, scopesUse)
			if err != nil {
				return err
			}
			var rs []sandboxclient.InstallResult
			for _, spec := range specs {
				r, err := sb.InstallRuntime(cmd.Context(), spec, force)
				if err != nil {
					return o.errorIn(sb.ID(), err)
				}
				rs = append(rs, *r)
				if r.ExitCode != 0 {
					break
				}
			}
			if len(rs) == 1 {
				return o.installed(sb.ID(), rs, rs[0]) // one result, as before
			}
			return o.installed(sb.ID(), rs, rs)
		},
	}
	install.Flags().BoolVar(&force, "force", false, "reinstall even if present")
	ensure := &cobra.Command{
		Use:   "ensure ID SPEC...",
		Short: "Install the runtimes that are missing",
		Long: `Install the SPECs that sandbox ID does not have yet (one request). The old order
'ensure SPEC... ID' still works, with a warning, when the first SPEC has a
version ('python@3.12').`,
		Example: `  nimbus sandbox runtimes ensure job-123 node@22 python@3.12`,
		Args:    runtimeArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, specs := o.runtimeArgs(cmd, args)
			sb, err := o.open(cmd, id, scopesUse)
			if err != nil {
				return err
			}
			rs, err := sb.EnsureRuntimes(cmd.Context(), specs, force)
			if err != nil {
				return o.errorIn(sb.ID(), err)
			}
			return o.installed(sb.ID(), rs, rs)
		},
	}
	ensure.Flags().BoolVar(&force, "force", false, "reinstall even if present")
	cmd.AddCommand(list, install, ensure)
	return cmd
}

// runtimeArgs requires ID and at least one SPEC.
func runtimeArgs(cmd *cobra.Command, args []string) error {
	if len(args) < 2 {
		return clierr.Usagef("expected ID and at least one SPEC, got %d argument(s)", len(args)).
			WithHint(strings.TrimSpace(cmd.Example))
	}
	// An empty SPEC (an unset variable) went to the sandbox, which answered
	// with an install failure naming nothing ("installing  failed").
	for _, a := range args[1:] {
		if strings.TrimSpace(a) == "" {
			return clierr.Usagef("SPEC is empty").WithHint("name a runtime: NAME or NAME@VERSION, e.g. python@3.12")
		}
	}
	return nil
}

// runtimeArgs splits ID SPEC... and accepts the deprecated SPEC... ID when
// that is unambiguous: the first argument holds '@', which the sandbox id
// rule forbids, so it can only be a SPEC and the id is the last argument.
func (o *common) runtimeArgs(cmd *cobra.Command, args []string) (string, []string) {
	if strings.Contains(args[0], "@") && !strings.Contains(args[len(args)-1], "@") {
		id := args[len(args)-1]
		specs := args[:len(args)-1]
		o.f.Warn(&clierr.Warning{
			Code:    "W_DEPRECATED_ORDER",
			Message: "'" + cmd.Name() + " SPEC... ID' is deprecated; the sandbox id comes first",
			Hint: o.hints(id).OnSandbox(func(arg string) string {
				return "nimbus sandbox runtimes " + cmd.Name() + " " + arg + " " + quoteWords(specs)
			}),
		})
		return id, specs
	}
	return args[0], args[1:]
}

// quoteWords is words quoted for a shell (shellquote.Quote), each on its
// own, and joined with spaces.
func quoteWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = shellquote.Quote(w)
	}
	return strings.Join(q, " ")
}

// installed reports install results; a failed install (an unknown spec or
// version, a failing installer) exits 65 with its output on stderr.
func (o *common) installed(id string, rs []sandboxclient.InstallResult, v any) error {
	ios := o.f.IOStreams
	if err := o.output(v, func() error {
		st := ios.Styles()
		for _, r := range rs {
			if r.ExitCode == 0 {
				// The answer does not say whether the runtime was
				// installed now or was there already (ensure, install
				// without --force): say what holds in both cases.
				fmt.Fprintf(ios.ErrOut, "%s %s is installed\n", st.SuccessIcon(), r.Spec)
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
			return clierr.New(exitcode.DataErr, "E_RUNTIME_INSTALL", fmt.Sprintf("installing %s failed with exit code %d", r.Spec, r.ExitCode), o.hints(id).RuntimeInstallHint())
		}
	}
	return nil
}
