package sandbox

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/duration"
	"github.com/nimbus-sh/nimbus/pkg/interactive"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

func newCmdAttach(o *common) *cobra.Command {
	var (
		noStdin  bool
		lines    int64
		interval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "attach ID PID [--no-stdin]",
		Short: "Attach to a background process: follow its output, send it input",
		Long: `Attach to a background process of the sandbox: print its recent output and
follow it (as logs -f), and send it what you type (writeProcessInput).

On a terminal, lines are edited locally and sent on Enter; Ctrl-D ends the
process's input (endProcessInput), Ctrl-C sends it SIGINT, and Ctrl-P Ctrl-Q
detaches, leaving it running. The terminal size is sent with resizeProcess.
Without a terminal, standard input is copied to the process and its end
closes the process's input; --no-stdin sends nothing.

nimbus exits with the process's exit code once it exits (0 when detached),
125 when nimbus itself failed and 130 when interrupted. --json prints the
output as logs -f --json does: one object per chunk, then {"exit":…}.
Output the sandbox's log ring dropped between two polls is gone: a warning
(W_LOGS_LOST) says so once, as logs -f does.

The output is polled every --interval while input can be sent. Once its end
was sent (or with --no-stdin), each poll that finds nothing new waits twice
as long as the one before, up to 2s: an idle attach costs almost nothing,
and shows the process's exit or next output at most 2s late. Output brings
the polls back to --interval.

For the session's own terminal (a shell on a terminal, where full-screen
programs run), use 'nimbus session attach ID'.`,
		Example: `  # pid=$(nimbus sandbox start job-123 -- python3 -i)
  nimbus sandbox attach job-123 $pid
  echo 'print(6*7)' | nimbus sandbox attach job-123 $pid
  nimbus sandbox attach job-123 $pid --no-stdin --json
  nimbus sandbox attach job-123 $pid --lines 0`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return execUsage(clierr.Usagef("expected ID and PID, got %d argument(s)", len(args)).WithHint("nimbus sandbox attach ID PID"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.needServer(cmd.Name()); err != nil {
				return execUsage(err.(*clierr.Error))
			}
			pid, err := parsePID(o.hints(args[0]), args[1])
			if err != nil {
				return execUsage(err.(*clierr.Error))
			}
			if err := checkLines(cmd, lines); err != nil {
				return execUsage(err.(*clierr.Error))
			}
			if from := o.stdinToken(); !noStdin && from != "" {
				return execUsage(clierr.Usagef("%s and attach both read standard input", from).WithHint("pass the token in a file or NIMBUS_TOKEN, or use --no-stdin"))
			}
			sb, err := o.open(cmd, args[0], scopesUse)
			if err != nil {
				return sandboxcli.ExecError(err)
			}
			ios := o.f.IOStreams
			st := ios.Styles()
			opts := interactive.AttachOptions{
				Stdout: ios.Out, Stderr: ios.ErrOut, Lines: followLines(cmd, lines), Interval: interval,
				OnWarning: func(err error) {
					if lost := (*interactive.LostOutputError)(nil); errors.As(err, &lost) {
						warnLost(o, lost)
						return
					}
					o.warn("W_ATTACH_INPUT", err.Error(), "")
				},
			}
			if o.f.JSON {
				// As logs -f --json: one object per chunk, then the exit.
				opts.Output = func(l *sandboxclient.Logs) error {
					for _, c := range l.Chunks {
						if err := sandboxcli.WriteJSONLine(ios.Out, c); err != nil {
							return err
						}
					}
					return nil
				}
			}
			t := o.terminal()
			switch {
			case t != nil && !noStdin:
				resize, stop := notifyResize()
				defer stop()
				opts.Terminal, opts.Resize = t, resize
				fmt.Fprintf(ios.ErrOut, "%s\n", st.Muted(fmt.Sprintf("Attached to process %d of %s: Ctrl-D ends its input, Ctrl-C sends SIGINT, %s detaches.", pid, args[0], interactive.DetachKeys)))
			case !noStdin:
				opts.In = ios.In
			}
			r, err := interactive.Attach(cmd.Context(), sb, pid, opts)
			if err != nil {
				return o.execErrorIn(sb.ID(), err)
			}
			if r.Detached {
				fmt.Fprintf(ios.ErrOut, "%s\n", st.Muted(fmt.Sprintf("Detached; process %d keeps running.", pid)))
				return nil
			}
			if o.f.JSON {
				if err := sandboxcli.WriteJSONLine(ios.Out, map[string]any{"exit": r.Exit}); err != nil {
					return o.execErrorIn(sb.ID(), err)
				}
			} else if o.human() {
				fmt.Fprintf(ios.ErrOut, "%s\n", st.Muted(fmt.Sprintf("Process %d exited with code %d.", pid, r.Exit.Code)))
			}
			return processExit(o, r.Exit)
		},
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return execUsage(clierr.Usagef("%s", err.Error()).WithHint(cmdutil.FlagErrorHint(c, err, "run 'nimbus sandbox attach --help' for usage")))
	})
	fl := cmd.Flags()
	fl.BoolVar(&noStdin, "no-stdin", false, "only follow the output; send no input")
	fl.Int64Var(&lines, "lines", 0, "show this many lines of earlier output first, 0 for none (default: the server's 200)")
	duration.Var(fl, &interval, "interval", 100*time.Millisecond, duration.Limits{Min: 25 * time.Millisecond, Max: 5 * time.Second}, "output polling interval, 25ms to 5s (slowing to 2s once the input ended and the process is quiet)")
	return passesExit(cmd, "")
}
