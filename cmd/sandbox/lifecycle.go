package sandbox

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
)

func newCmdReady(o *common) *cobra.Command {
	return &cobra.Command{
		Use:   "ready ID",
		Short: "Boot a sandbox and apply its preinstalled runtimes",
		Example: `  nimbus sandbox ready job-123
  nimbus sandbox ready job-123 --json | jq .preinstalled`,
		Args: cmdutil.ExactArgs(1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, err := o.open(cmd, args[0], scopesUse)
			if err != nil {
				return err
			}
			r, err := sb.Ready(cmd.Context())
			if err != nil {
				return o.errorIn(sb.ID(), err)
			}
			return o.output(r, func() error {
				ios := o.f.IOStreams
				pre := "none"
				if len(r.Preinstalled) > 0 {
					names := make([]string, len(r.Preinstalled))
					for i, n := range r.Preinstalled {
						names[i] = sandboxcli.DisplayText(n)
					}
					pre = strings.Join(names, ", ")
				}
				if _, err := fmt.Fprintf(ios.Out, "%s sandbox %s is ready (preinstalled: %s)\n", ios.Styles().SuccessIcon(), sb.ID(), pre); err != nil {
					return err
				}
				for _, d := range r.Diagnostics {
					fmt.Fprintf(ios.ErrOut, "%s %s\n", ios.Styles().WarningIcon(), sandboxcli.DisplayText(d))
				}
				return nil
			})
		},
	}
}

func newCmdDestroy(o *common) *cobra.Command {
	var reason, ledgerPath string
	cmd := &cobra.Command{
		Use:   "destroy (ID | --ledger[=FILE]) [--reason TEXT]",
		Short: "Wipe a sandbox: kill its processes and delete its files",
		Long: `Wipe a sandbox: kill its processes and delete all its storage. Using the id
again later starts a fresh sandbox. Repeating destroy is harmless. The token
needs session:destroy (or session:admin) besides sandbox:use.

With --ledger, destroy every sandbox recorded in the cleanup ledger (by
'sandbox run', --keep ones included, and 'nimbus mcp') and not destroyed yet,
each on the Worker that holds it, and remove them from the ledger: the last
step of a CI job, run even when the job was cancelled. The ledger is FILE,
else NIMBUS_LEDGER, else nimbus-ledger.jsonl in RUNNER_TEMP (GitHub Actions),
else nimbus-ledger-<uid>.jsonl in the system temporary directory
(nimbus-ledger.jsonl on Windows). Sandboxes that could not be destroyed
stay in the ledger, and the command fails. Only the sandboxes of the token's
owner (its tenant and subject) are destroyed, and those recorded without one:
another owner's stay in the ledger, with a warning that says how to drain
them (W_LEDGER_OTHER_OWNERS).`,
		Example: `  nimbus sandbox destroy job-123
  nimbus sandbox destroy "job-$GITHUB_RUN_ID" --reason ci-cleanup
  # the last step of a CI job (GitHub Actions: if: always())
  nimbus sandbox destroy --ledger
  NIMBUS_LEDGER=$RUNNER_TEMP/nimbus.jsonl nimbus sandbox destroy --ledger --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("ledger") {
				if len(args) != 0 {
					return clierr.Usagef("--ledger destroys the ledger's sandboxes; do not name an ID as well")
				}
				return nil
			}
			return cmdutil.ExactArgs(1, "ID")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("ledger") {
				return o.destroyLedger(cmd, ledgerPath, reason)
			}
			sb, err := o.open(cmd, args[0], scopesDestroy)
			if err != nil {
				return err
			}
			r, err := sb.Destroy(cmd.Context(), reason)
			if err != nil {
				return o.errorIn(sb.ID(), err)
			}
			return o.output(r, func() error {
				ios := o.f.IOStreams
				_, err := fmt.Fprintf(ios.Out, "%s destroyed sandbox %s (%d process(es) killed)\n", ios.Styles().SuccessIcon(), sb.ID(), r.Killed)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "reason recorded by the Worker (at most 200 characters)")
	cmd.Flags().StringVar(&ledgerPath, "ledger", "", "destroy the sandboxes recorded in the cleanup ledger `FILE`")
	cmd.Flags().Lookup("ledger").NoOptDefVal = ledgerDefault
	return cmd
}
