package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/duration"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/pkg/interactive"
)

func newCmdShell(o *common) *cobra.Command {
	var (
		shellID   string
		timeout   time.Duration
		noHistory bool
	)
	cmd := &cobra.Command{
		Use:   "shell ID [--shell NAME] [--timeout 30]",
		Short: "Open a line-mode shell in a sandbox",
		Long: `Open a shell in a sandbox. Each line runs on a named shell of the sandbox
(a new one, nimbus-shell-<random>, or --shell NAME to rejoin one), so the
working directory and exported variables carry over between lines. A Worker
also keeps unexported variables, functions and aliases; nimbus dev and --local
do not (export what the next line needs). Output streams live.

On a terminal: the prompt shows the sandbox, the shell's directory and the
last exit code; lines are edited locally (arrows, Ctrl-A/E/K/U/W) with a
history kept per sandbox in the user cache directory (lines starting with a
space are not kept). Ctrl-C interrupts the running command and keeps the
shell; Ctrl-D or 'exit' leaves with the last exit code, 'exit N' with N.
--timeout bounds each line (exit code 124 for that line).

Not on a terminal: lines are read from standard input and run one by one,
printing nothing but their output, and nimbus exits with the last line's exit
code. A command that spans lines, as sh reads it (a backslash at the end, an
open quote, here-document, if/for/while/case block or { } ( ) group, a
trailing && || or |), runs whole once it ends. --json prints
NDJSON events as exec does, with an exit event after each line.

This is a line mode: full-screen programs (vim, top, less) need a real
terminal: 'nimbus session attach ID' puts the session's terminal in yours,
like ssh (or open the browser page with 'nimbus session url').

Exit codes: the last line's code, or 125 when nimbus itself failed and 130
when interrupted.`,
		Example: `  nimbus sandbox shell job-123
  nimbus sandbox shell job-123 --shell build --timeout 10m
  printf 'cd app\nnpm test\n' | nimbus sandbox shell job-123`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return execUsage(clierr.Usagef("expected ID, got %d argument(s)", len(args)).WithHint("nimbus sandbox shell ID"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if shellID != "" && !interactive.ValidShellID(shellID) {
				return execUsage(clierr.Usagef("--shell %q: use letters, digits and . _ : - (at most 160, starting with a letter or digit)", shellID))
			}
			if from := o.stdinToken(); from != "" {
				return execUsage(clierr.Usagef("%s and the shell both read standard input", from).WithHint("pass the token in a file or NIMBUS_TOKEN"))
			}
			sb, err := o.open(cmd, args[0], scopesUse)
			if err != nil {
				return sandboxcli.ExecError(err)
			}
			sh, err := interactive.NewShell(sb, interactive.ShellOptions{ShellID: shellID, Timeout: timeout})
			if err != nil {
				return o.execErrorIn(sb.ID(), err)
			}
			ios := o.f.IOStreams
			t := o.terminal()
			if t == nil {
				stdout, stderr := ios.Out, ios.ErrOut
				var done func(int, time.Duration) error
				if o.f.JSON {
					events := sandboxcli.NewEventWriter(ios.Out)
					stdout, stderr = events.Stream("stdout"), events.Stream("stderr")
					done = func(code int, took time.Duration) error {
						return events.Exit(json.Number(strconv.Itoa(code)), took.Milliseconds())
					}
				}
				code, err := sh.RunScript(cmd.Context(), ios.In, stdout, stderr, done)
				if err != nil {
					return o.execErrorIn(sb.ID(), err)
				}
				return commandStatus(o, code, "")
			}
			return o.interact(cmd, args[0], sh, *t, noHistory)
		},
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return execUsage(clierr.Usagef("%s", err.Error()).WithHint(cmdutil.FlagErrorHint(c, err, "run 'nimbus sandbox shell --help' for usage")))
	})
	fl := cmd.Flags()
	fl.StringVar(&shellID, "shell", "", "rejoin the named shell `NAME` (default: a new nimbus-shell-<random>); also --shell-id, as exec names it")
	flagAlias(fl, "shell-id", "shell")
	duration.Var(fl, &timeout, "timeout", 0, duration.Limits{AllowZero: true}, "kill each line after this long (exit code 124 for the line): seconds or a duration such as 90s, 10m; 0 means no limit")
	fl.BoolVar(&noHistory, "no-history", false, "do not read or write the history file")
	return passesExit(cmd, "")
}

// interact runs the shell on the terminal. Ctrl-C reaches nimbus as
// SIGINT while a command runs (the terminal is in its normal mode then):
// it interrupts the command, not the shell, so the session runs on a
// context that SIGINT does not cancel; SIGTERM and SIGHUP still end it.
func (o *common) interact(cmd *cobra.Command, id string, sh *interactive.Shell, t interactive.Terminal, noHistory bool) error {
	ios := o.f.IOStreams
	st := ios.Styles()
	ctx, cancel := context.WithCancel(context.WithoutCancel(cmd.Context()))
	defer cancel()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	interrupts := make(chan struct{}, 1)
	var ended atomic.Value // the signal that ended the session
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-sigs:
				if s != os.Interrupt {
					ended.Store(s)
					cancel()
					return
				}
				select {
				case interrupts <- struct{}{}:
				default:
				}
			}
		}
	}()

	var hist *interactive.History
	if !noHistory {
		h, err := o.openHistory(id)
		if err != nil {
			o.warn("W_HISTORY", "the history is not kept: "+err.Error(), "pass --no-history to go without")
		} else {
			hist = h
		}
	}
	attach := o.hints(id).OnSandbox(func(arg string) string { return "nimbus session attach " + arg })
	fmt.Fprintf(ios.ErrOut, "%s %s %s\n%s\n",
		st.Muted("Shell"), st.Bold(sh.ID()), st.Muted("on sandbox "+id+" (rejoin with --shell "+sh.ID()+")"),
		st.Muted("Line mode: Ctrl-C interrupts, Ctrl-D or exit leaves; full-screen programs need: "+attach))
	opts := interactive.InteractOptions{
		Terminal:   t,
		Interrupts: interrupts,
		Prompt: func(p interactive.Prompt) string {
			if p.Continuation {
				return st.Muted("> ")
			}
			s := st.Key(p.SandboxID)
			if p.Cwd != "" {
				s += st.Muted(":") + st.Bold(p.Cwd)
			}
			if p.Exit != 0 {
				s += " " + st.Error(fmt.Sprintf("[%d]", p.Exit))
			}
			return s + "$ "
		},
		OnError: func(err error) int {
			o.renderError(cmd, o.execErrorIn(id, err))
			return exitcode.ExecFailed
		},
		OnWarning: func(err error) { o.warn("W_HISTORY", err.Error(), "") },
	}
	if ios.IsStderrTTY() {
		// Both streams are the same screen: one tracker of line ends.
		opts.Stderr = nil
	} else {
		opts.Stderr = ios.ErrOut
	}
	if hist != nil {
		opts.History = hist
	}
	code, err := sh.Interact(ctx, opts)
	if err != nil {
		if s, _ := ended.Load().(os.Signal); s == syscall.SIGTERM && ctx.Err() != nil {
			// 143 as every command ends on SIGTERM; the root's own watch
			// of the signal may not have cancelled its context yet.
			return clierr.Wrap(err, 128+int(syscall.SIGTERM), "E_INTERRUPTED", "interrupted", "")
		}
		return o.execErrorIn(id, err)
	}
	return commandStatus(o, code, "")
}

// openHistory opens the sandbox's history file under the user cache dir.
func (o *common) openHistory(id string) (*interactive.History, error) {
	p, err := o.f.Paths().HistoryFile(id)
	if err != nil {
		return nil, err
	}
	return interactive.OpenHistory(p, 0)
}
