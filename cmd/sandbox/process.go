package sandbox

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/duration"
	"github.com/nimbus-sh/nimbus/internal/shellquote"
	"github.com/nimbus-sh/nimbus/internal/table"
	"github.com/nimbus-sh/nimbus/pkg/interactive"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// parsePID reads PID s, a process of sandbox h.ID (named by the hint of
// a PID that is no number).
func parsePID(h sandboxcli.Hints, s string) (int64, error) {
	pid, err := strconv.ParseInt(s, 10, 64)
	if err != nil || pid <= 0 {
		return 0, clierr.Usagef("PID %q must be a positive integer", s).WithHint(h.NoProcessHint())
	}
	return pid, nil
}

func newCmdPs(o *common) *cobra.Command {
	return &cobra.Command{
		Use:   "ps ID",
		Short: "List the sandbox's processes",
		Example: `  nimbus sandbox ps job-123
  nimbus sandbox ps job-123 --json | jq '.[] | select(.state == "running") | .pid'`,
		Args: cmdutil.ExactArgs(1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, err := o.open(cmd, args[0], scopesUse)
			if err != nil {
				return err
			}
			ps, err := sb.ListProcesses(cmd.Context())
			if err != nil {
				return o.errorIn(sb.ID(), err)
			}
			return o.output(ps, func() error {
				st := o.f.IOStreams.Styles()
				if len(ps) == 0 {
					_, err := fmt.Fprintln(o.f.IOStreams.ErrOut, st.Muted(o.hints(sb.ID()).OnSandbox(func(arg string) string {
						return "No processes: start one with nimbus sandbox start " + arg + " -- COMMAND"
					})))
					return err
				}
				var t table.Table
				t.Row(st.Bold, "PID", "STATE", "EXIT", "COMMAND")
				for _, p := range ps {
					exit := "-"
					if p.ExitCode != nil {
						exit = strconv.Itoa(*p.ExitCode)
					}
					t.Row(nil, strconv.FormatInt(p.PID, 10), sandboxcli.DisplayText(p.State), exit, sandboxcli.DisplayText(p.Command))
				}
				_, err := t.WriteTo(o.f.IOStreams.Out)
				return err
			})
		},
	}
}

func newCmdLogs(o *common) *cobra.Command {
	var follow bool
	var lines int64
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "logs ID PID [-f]",
		Short: "Print a process's output (-f follows until it exits)",
		Long: `Print the tail of a process's output: stdout chunks to stdout, stderr chunks
to stderr. --json prints the API's result as one document ({pid, chunks,
cursor, truncated, exit}).

With -f, keep polling by cursor until the process exits, then exit with the
process's exit code, as exec does: nimbus's own failures once the command
line is read then exit 125, and an interruption 130. --json with -f prints
one JSON object per chunk (NDJSON), then {"exit":{"code":…}}. Output the
sandbox's log ring dropped between two polls (a process writing faster than
it is polled) is gone: a warning (W_LOGS_LOST) says so once.

-f polls every --interval while output flows; each poll that finds nothing
new waits twice as long as the one before, up to 2s, and output brings the
polls back to --interval. A quiet process followed for long costs one
request every 2s instead of four a second, and its exit or next output
shows at most 2s late; no output is skipped (it is read by cursor).

--lines 0 shows no earlier output, as tail -n 0: with -f only what the
process writes from now on; without it nothing (--json: the result with no
chunks, whose cursor is the current end), after checking the process exists.`,
		Example: `  nimbus sandbox logs job-123 1000001
  nimbus sandbox logs job-123 1000001 -f --interval 1s && echo "the server exited 0"
  nimbus sandbox logs job-123 1000001 --lines 50 --json
  nimbus sandbox logs job-123 1000001 -f --lines 0`,
		Args: cmdutil.ExactArgs(2, "ID and PID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Following passes the process's exit code through, so
			// nimbus's own failures use exec's 125 (and 130, 124).
			fail := func(err error) error { return err }
			if follow {
				fail = sandboxcli.ExecError
			}
			pid, err := parsePID(o.hints(args[0]), args[1])
			if err != nil {
				return fail(err)
			}
			if err := checkLines(cmd, lines); err != nil {
				return fail(err)
			}
			sb, err := o.open(cmd, args[0], scopesUse)
			if err != nil {
				return fail(err)
			}
			ios := o.f.IOStreams
			warnedLost := false
			emit := func(l *sandboxclient.Logs) error {
				if l.Lost && !warnedLost {
					// Said once, where it happened: the exit code is the
					// process's, but its output here is not whole.
					warnedLost = true
					warnLost(o, &interactive.LostOutputError{PID: pid})
				}
				for _, c := range l.Chunks {
					if o.f.JSON {
						if err := sandboxcli.WriteJSONLine(ios.Out, c); err != nil {
							return err
						}
						continue
					}
					w := ios.Out
					if c.Stream == "stderr" {
						w = ios.ErrOut
					}
					if _, err := io.WriteString(w, c.Data); err != nil {
						return err
					}
				}
				return nil
			}
			if !follow {
				opts := sandboxclient.LogOptions{}
				if lines > 0 {
					opts.Lines = &lines
				}
				var l *sandboxclient.Logs
				if cmd.Flags().Changed("lines") && lines == 0 {
					// As tail -n 0: no output, but the process must
					// exist, and --json still gives its cursor and exit.
					l, err = sb.ProcessLogEnd(cmd.Context(), pid)
				} else {
					l, err = sb.ProcessLogs(cmd.Context(), pid, opts)
				}
				if err != nil {
					return o.errorIn(sb.ID(), err)
				}
				if o.f.JSON {
					return o.f.PrintJSON(l)
				}
				return emit(l)
			}
			// logs -f sends the process nothing: a quiet one is polled
			// less and less, up to every IdleInterval, not ten times a
			// second for as long as it runs (each poll a request billed
			// by the Worker's platform).
			pace := sandboxclient.NewPacer(interval, true, nil)
			exit, err := sb.FollowLogsPaced(cmd.Context(), pid, followLines(cmd, lines), pace.Wait, emit)
			if err != nil {
				return o.execErrorIn(sb.ID(), err)
			}
			if o.f.JSON {
				if err := sandboxcli.WriteJSONLine(ios.Out, map[string]any{"exit": exit}); err != nil {
					return o.execErrorIn(sb.ID(), err)
				}
			} else if ios.IsStderrTTY() {
				fmt.Fprintf(ios.ErrOut, "%s process %d exited with code %d\n", ios.Styles().Muted("—"), pid, exit.Code)
			}
			return processExit(o, exit)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "poll for new output until the process exits")
	cmd.Flags().Int64Var(&lines, "lines", 0, "tail this many lines first; 0 for none, with -f only new output (default: the server's 200)")
	duration.Var(cmd.Flags(), &interval, "interval", 250*time.Millisecond, duration.Limits{Min: 25 * time.Millisecond, Max: 5 * time.Second}, "polling interval with -f, 25ms to 5s (slowing to 2s while the process is quiet)")
	return passesExit(cmd, "follow")
}

// CodeLogsLost is the warning of `logs -f` and `attach` when output was
// evicted from the sandbox's log ring between two polls.
const CodeLogsLost = interactive.CodeOutputLost

// warnLost gives the warning of output lost while following a process.
func warnLost(o *common, e *interactive.LostOutputError) {
	o.warn(CodeLogsLost, e.Error(), "poll more often with --interval, or have the process write its output to a file in the sandbox")
}

// processExit ends `logs -f` with the followed process's exit code, by
// exec's rule: a code that is not an exit status (outside 0-255, not an
// integer) exits 125 with a warning; only a real 0 may look like success.
func processExit(o *common, exit *sandboxclient.LogExit) error {
	return commandStatus(o, exit.Code, exit.CodeRaw)
}

func newCmdKill(o *common) *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill ID PID [--signal TERM]",
		Short: "Kill a process, or send it a signal",
		Long: `Kill a background process of the sandbox (SIGKILL), or send it the signal
given with --signal, written as kill(1) users write it: TERM, SIGTERM, term,
-TERM, 15 or -15 (numbers are Linux's, the sandbox's system).`,
		Example: `  nimbus sandbox kill job-123 1000001
  nimbus sandbox kill job-123 1000001 --signal TERM
  nimbus sandbox kill job-123 1000001 --signal 2`,
		Args: cmdutil.ExactArgs(2, "ID and PID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pid, err := parsePID(o.hints(args[0]), args[1])
			if err != nil {
				return err
			}
			name := ""
			if cmd.Flags().Changed("signal") {
				name, err = sandboxclient.ParseSignal(signal)
				if err != nil {
					return clierr.Usagef("--signal: %s", err.Error()).WithHint("signals: " + strings.Join(sandboxclient.SignalNames(), " "))
				}
			}
			sb, err := o.open(cmd, args[0], scopesUse)
			if err != nil {
				return err
			}
			var ack *sandboxclient.ProcessAck
			if name == "" {
				ack, err = sb.KillProcess(cmd.Context(), pid)
			} else {
				ack, err = sb.SignalProcess(cmd.Context(), pid, name)
			}
			if err != nil {
				return o.errorIn(sb.ID(), err)
			}
			if !ack.OK { // a failure: stdout stays empty, stderr says why
				return clierr.New(65, "E_NO_PROCESS", fmt.Sprintf("process %d is not running", pid), o.hints(sb.ID()).NoProcessHint())
			}
			if name == "" {
				o.said("Killed process %d", pid)
			} else {
				o.said("Sent %s to process %d", name, pid)
			}
			if !o.f.MachineOutput() {
				return nil
			}
			return o.f.PrintJSON(ack)
		},
	}
	cmd.Flags().StringVar(&signal, "signal", "", "send this `SIGNAL` (TERM, SIGTERM, term, 15, …) instead of killing")
	cmdutil.CompleteWords(cmd, "signal", sandboxclient.SignalNames()...)
	return cmd
}

func newCmdStart(o *common) *cobra.Command {
	var cwd, restart string
	var envs []string
	cmd := &cobra.Command{
		Use:   "start ID [--cwd DIR] [--env K=V|K] [--restart on-failure] -- COMMAND...",
		Short: "Start a background process and print its pid",
		Example: `  nimbus sandbox start job-123 -- python3 -m http.server 3000
  pid=$(nimbus sandbox start job-123 --cwd app --restart on-failure -- npm run dev)`,
		Args: func(cmd *cobra.Command, args []string) error {
			args = idAndCommand(cmd, args)
			if len(args) < 2 {
				return clierr.Usagef("expected ID and a COMMAND after --").WithHint("nimbus sandbox start " + firstArgID(args) + " -- COMMAND...")
			}
			if err := blankCommand(args[1:], "COMMAND", "nimbus sandbox start "+firstArgID(args)+" -- COMMAND..."); err != nil {
				return err
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			args = idAndCommand(cmd, args)
			env, err := sandboxcli.ParseEnv(envs, o.f.Getenv)
			if err != nil {
				return err
			}
			if err := o.needServer("start (a background process)"); err != nil {
				return err
			}
			if err := cwdError(cmd, cwd); err != nil {
				return err
			}
			if restart != "" && restart != "never" && restart != "on-failure" {
				return clierr.Usagef("--restart %q: use never or on-failure", restart)
			}
			return o.startBackground(cmd, args[0], shellquote.Join(args[1:]), sandboxclient.StartOptions{ExecOptions: sandboxclient.ExecOptions{Cwd: cwd, Env: env}, Restart: restart}, o.errorIn)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cwd, "cwd", "", "working `DIR` (relative to --root)")
	fl.StringArrayVar(&envs, "env", nil, "set `K=V`, or forward the local value of K (repeatable)")
	fl.StringVar(&restart, "restart", "", "restart policy: never or on-failure")
	cmdutil.CompleteWords(cmd, "restart", "never", "on-failure")
	return cmd
}

// startBackground starts a background process and prints its pid (the
// start result with --json); mapErr maps failures in sandbox id for the
// calling command (sandboxcli.ErrorIn, ExecErrorIn).
func (o *common) startBackground(cmd *cobra.Command, id, command string, opts sandboxclient.StartOptions, mapErr func(id string, err error) error) error {
	sb, err := o.open(cmd, id, scopesUse)
	if err != nil {
		return mapErr(id, err)
	}
	r, err := sb.StartProcess(cmd.Context(), command, opts)
	if err != nil {
		return mapErr(sb.ID(), err)
	}
	return o.value(r, func() error {
		_, err := fmt.Fprintln(o.f.IOStreams.Out, r.PID)
		return err
	})
}

// checkLines refuses a negative --lines: it would be sent as no count,
// which asks for the server's default of 200 lines.
func checkLines(cmd *cobra.Command, lines int64) error {
	if cmd.Flags().Changed("lines") && lines < 0 {
		return clierr.Usagef("--lines %d: give 0 or more", lines).WithHint("--lines 0 shows no earlier output; leave --lines out for the server's default, its last 200 lines")
	}
	return nil
}

// followLines is the FollowLogs count of a checked --lines: an explicit 0
// is FollowNew (only what comes next, as tail -f -n 0), not the 0 that
// leaves the count out and gets the server's 200 lines.
func followLines(cmd *cobra.Command, lines int64) int64 {
	if cmd.Flags().Changed("lines") && lines == 0 {
		return sandboxclient.FollowNew
	}
	return lines
}
