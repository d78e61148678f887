package sandbox

import (
	"context"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/duration"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/shellquote"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// maxStdin bounds --stdin: it is sent inside one request.
const maxStdin = 20 << 20

// execUsage makes usage errors of exec-like commands exit 125: their exit
// codes below 125 belong to the remote command.
func execUsage(err *clierr.Error) *clierr.Error {
	err.Exit = exitcode.ExecFailed
	return err
}

// cwdError refuses a --cwd given empty or of white space only: the
// command would run in the root (--root) or fail in a directory named
// " ", where "--cwd $DIR" with DIR unset meant another directory. nil when
// --cwd is absent or names something.
func cwdError(cmd *cobra.Command, cwd string) *clierr.Error {
	if !cmd.Flags().Changed("cwd") || strings.TrimSpace(cwd) != "" {
		return nil
	}
	return clierr.Usagef("--cwd %q is empty", cwd).WithHint("name the directory; --cwd . is the root (--root, default /home/user), and leaving --cwd out runs there too")
}

func newCmdExec(o *common) *cobra.Command {
	var (
		cwd, shellID string
		envs         []string
		timeout      time.Duration
		stdin        bool
		detach       bool
	)
	cmd := &cobra.Command{
		Use:   "exec ID [--cwd DIR] [--env K=V | --env K] [--timeout 30] [--stdin] [--detach] [--json] -- COMMAND...",
		Short: "Run a command in a sandbox, streaming its output",
		Long: `Run a command in a sandbox. Its stdout and stderr are streamed to the local
stdout and stderr as they arrive, and nimbus exits with the command's exit code.

Several COMMAND words are joined into one shell line with POSIX quoting; a
single word is sent verbatim, so 'make test && ls' works as one argument.
An ID that starts with '-' goes after a '--' of its own, flags before it:
'exec --cwd app -- -x1 -- make test' (start takes it alike).

Exit codes: the remote command's own code, or 124 when it timed out, 125 when
nimbus itself failed (usage, auth, transport, server error, stream cut short),
and 130 when interrupted (the stream is closed so the command is cancelled). A
remote code that is not an exit status (256, -1, 1.5) exits 125 with a warning:
only a remote 0 exits 0.

--env K=V sets a variable; --env K forwards the local value of K, so secrets
stay off the command line. --stdin sends the local standard input (at most
20 MiB, read before the command starts); without it the command's stdin is
empty, and piped or redirected input gets a warning instead of being read, so
a script never blocks on an input it did not mean to send. --json
prints NDJSON events: stdout and stderr with data, then exit with the code and
duration in milliseconds.

--detach starts the command as a background process instead, as 'start' does,
and prints its pid (the start result with --json); follow it with 'logs -f' or
'attach'. It needs a backend that outlives the command (not --local).`,
		Example: `  nimbus sandbox exec job-123 -- make test
  nimbus sandbox exec job-123 --env NPM_TOKEN --cwd app -- 'npm ci && npm test'
  git diff | nimbus sandbox exec job-123 --stdin -- git apply
  pid=$(nimbus sandbox exec job-123 --detach -- npm run dev)`,
		Args: func(cmd *cobra.Command, args []string) error {
			args = idAndCommand(cmd, args)
			if len(args) < 2 {
				return execUsage(clierr.Usagef("expected ID and a COMMAND after --, got %d argument(s)", len(args)).
					WithHint("nimbus sandbox exec " + firstArgID(args) + " -- COMMAND..."))
			}
			if err := blankCommand(args[1:], "COMMAND", "nimbus sandbox exec "+firstArgID(args)+" -- COMMAND..."); err != nil {
				return execUsage(err)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			args = idAndCommand(cmd, args)
			if err := cwdError(cmd, cwd); err != nil {
				return execUsage(err)
			}
			env, err := sandboxcli.ParseEnv(envs, o.f.Getenv)
			if err != nil {
				return sandboxcli.ExecError(err)
			}
			opts := sandboxclient.ExecOptions{Cwd: cwd, Env: env, Timeout: timeout, ShellID: shellID}
			if from := o.stdinToken(); stdin && from != "" {
				return execUsage(clierr.Usagef("--stdin and %s both read standard input", from).WithHint("pass the token in a file or NIMBUS_TOKEN when using --stdin"))
			}
			if stdin {
				o.f.NoteReadingTerminal("the command's input", "or pipe it to nimbus")
				data, err := io.ReadAll(io.LimitReader(o.f.IOStreams.In, maxStdin+1))
				if err != nil {
					return sandboxcli.ExecError(clierr.Wrap(err, exitcode.ExecFailed, clierr.CodeIO, "cannot read stdin: "+err.Error(), ""))
				}
				if len(data) > maxStdin {
					return execUsage(clierr.Usagef("--stdin: input is larger than %d MiB", maxStdin>>20).WithHint("copy big inputs with nimbus sandbox cp, then redirect inside the command"))
				}
				s := string(data)
				opts.Stdin = &s
			}
			if !cmd.Flags().Changed("stdin") && o.tokenFile != "-" && o.f.IOStreams.StdinHasData() {
				o.f.Warn(&clierr.Warning{Code: "W_STDIN_NOT_SENT",
					Message: "standard input is not sent to the command without --stdin",
					Hint:    "add --stdin to send it, or --stdin=false to silence this"})
			}
			if detach {
				if err := o.needServer("--detach"); err != nil {
					return execUsage(err.(*clierr.Error))
				}
				if shellID != "" {
					return execUsage(clierr.Usagef("--detach and --shell-id cannot be combined: a background process never holds a named shell"))
				}
				return o.startBackground(cmd, args[0], shellquote.Join(args[1:]), sandboxclient.StartOptions{ExecOptions: opts}, o.execErrorIn)
			}
			sb, err := o.open(cmd, args[0], scopesUse)
			if err != nil {
				return sandboxcli.ExecError(err)
			}
			// A Worker that never reports --timeout is bounded by the
			// client (sandboxclient.CommandGrace): 124 all the same.
			return runStreaming(cmd.Context(), o, sb, shellquote.Join(args[1:]), opts)
		},
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return execUsage(clierr.Usagef("%s", err.Error()).WithHint(cmdutil.FlagErrorHint(c, err, "put the remote command after --: nimbus sandbox exec ID [flags] -- COMMAND...")))
	})
	fl := cmd.Flags()
	fl.StringVar(&cwd, "cwd", "", "working `DIR` (relative to --root)")
	fl.StringArrayVar(&envs, "env", nil, "set `K=V`, or forward the local value of K (repeatable)")
	duration.Var(fl, &timeout, "timeout", 0, duration.Limits{AllowZero: true}, "kill the command after this long (exit 124): seconds or a duration such as 90s, 15m; 0 means no limit")
	fl.BoolVar(&stdin, "stdin", false, "send local standard input to the command")
	fl.BoolVar(&detach, "detach", false, "start the command in the background and print its pid (like start)")
	fl.StringVar(&shellID, "shell-id", "", "run in the named persistent shell `S` (cwd and env carry over); also --shell, as shell names it")
	flagAlias(fl, "shell", "shell-id")
	return passesExit(cmd, "")
}

// runStreaming runs command and exits with its code.
func runStreaming(ctx context.Context, o *common, sb *sandboxclient.Sandbox, command string, opts sandboxclient.ExecOptions) error {
	ios := o.f.IOStreams
	stdout, stderr := ios.Out, ios.ErrOut
	var events *sandboxcli.EventWriter
	if o.f.JSON {
		events = sandboxcli.NewEventWriter(ios.Out)
		stdout, stderr = events.Stream("stdout"), events.Stream("stderr")
	}
	r, err := sb.Run(ctx, command, opts, stdout, stderr)
	if err != nil {
		return o.execErrorIn(sb.ID(), err)
	}
	if events != nil {
		code := r.ExitCodeRaw
		if code == "" {
			code = json.Number(strconv.Itoa(r.ExitCode))
		}
		if err := events.Exit(code, r.Duration); err != nil {
			return o.execErrorIn(sb.ID(), err)
		}
	}
	return remoteStatus(o, r)
}

// remoteStatus ends exec and run-code with the remote command's exit code
// (never masked: only a remote 0 is success), warning when that code is
// not an exit status.
func remoteStatus(o *common, r *sandboxclient.ExecResult) error {
	return commandStatus(o, r.ExitCode, r.ExitCodeRaw)
}

// commandStatus is the one exit-code rule of exec, run-code and logs -f
// (sandboxcli.CommandExit), with its warning written.
func commandStatus(o *common, code int, raw json.Number) error {
	status, warning := sandboxcli.CommandExit(code, raw)
	o.f.Warn(warning)
	if status != 0 {
		return clierr.Status(status)
	}
	return nil
}
