package sandbox

import (
	"errors"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/duration"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/regularfile"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

var languages = map[string]bool{"javascript": true, "typescript": true, "python": true, "ruby": true, "shell": true}

func newCmdRunCode(o *common) *cobra.Command {
	var language, install, file, cwd string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "run-code ID [--language python|javascript|typescript|ruby|shell] [--install if-missing] [--timeout 30] (CODE | --file F | -)",
		Short: "Run a code snippet in a sandbox",
		Long: `Run a code snippet with the sandbox's runtime for --language (default
javascript). The code comes from the CODE argument, from --file F, or from
standard input with "-". With --install if-missing, python and ruby are
installed first when the profile allows it.

--timeout bounds the snippet as exec's does: the Worker kills it after that
long (exit 124), and nimbus stops waiting for the answer 1 to 5 seconds later
if the Worker does not report it. Without --timeout it may run as long as it
needs.

Exits like exec: the snippet's exit code, or 124/125/130 for timeout, nimbus
failure and interruption. --json prints the whole result object.`,
		Example: `  nimbus sandbox run-code job-123 --language python 'print(2 + 2)'
  nimbus sandbox run-code job-123 --language shell --file ./setup.sh
  nimbus sandbox run-code job-123 --language python --timeout 5m --file ./train.py`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 || (len(args) == 2) == (file != "") {
				return execUsage(clierr.Usagef("expected ID and exactly one of CODE, --file F or -").WithHint("nimbus sandbox run-code ID [--language L] (CODE | --file F | -)"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if !languages[language] {
				return execUsage(clierr.Usagef("--language %q: use javascript, typescript, python, ruby or shell", language))
			}
			mode := "never"
			switch install {
			case "", "never":
			case "if-missing", "ifMissing":
				mode = "ifMissing"
			default:
				return execUsage(clierr.Usagef("--install %q: use if-missing or never", install))
			}
			var code string
			if err := cwdError(cmd, cwd); err != nil {
				return execUsage(err)
			}
			switch {
			case file != "":
				// Bounded as the code on standard input is (it is sent in
				// one request); a pipe (--file <(…)) is read as stdin is.
				b, err := regularfile.ReadStream(file, maxStdin)
				if errors.Is(err, regularfile.ErrTooLarge) {
					return execUsage(clierr.Usagef("--file %s is larger than %d MiB", file, maxStdin>>20).WithHint("copy big programs with nimbus sandbox cp and run them with exec"))
				}
				if err != nil {
					return execUsage(clierr.New(exitcode.Usage, clierr.CodeIO, "cannot read --file: "+err.Error(), ""))
				}
				code = string(b)
			case args[1] == "-":
				if from := o.stdinToken(); from != "" {
					return execUsage(clierr.Usagef("%s and the code (-) both read standard input", from).WithHint("pass the token in a file or NIMBUS_TOKEN, or the code with --file F"))
				}
				o.f.NoteReadingTerminal("the code", "--file F reads a file instead")
				b, err := io.ReadAll(io.LimitReader(o.f.IOStreams.In, maxStdin+1))
				if err != nil {
					return sandboxcli.ExecError(err)
				}
				if len(b) > maxStdin {
					return execUsage(clierr.Usagef("the code on standard input is larger than %d MiB", maxStdin>>20).WithHint("copy big programs with nimbus sandbox cp and run them with exec"))
				}
				code = string(b)
			default:
				code = args[1]
			}
			if err := blankCommand([]string{code}, "CODE", "nimbus sandbox run-code [--language L] [--file F] "+firstArgID(args)+" [CODE | -]"); err != nil {
				return execUsage(err)
			}
			sb, err := o.open(cmd, args[0], scopesUse)
			if err != nil {
				return sandboxcli.ExecError(err)
			}
			r, err := sb.RunCode(cmd.Context(), code, sandboxclient.RunCodeOptions{ExecOptions: sandboxclient.ExecOptions{Cwd: cwd, Timeout: timeout}, Language: language, Install: mode})
			if err != nil {
				return o.execErrorIn(sb.ID(), err)
			}
			ios := o.f.IOStreams
			if o.f.JSON {
				if err := o.f.PrintJSON(r); err != nil {
					return o.execErrorIn(sb.ID(), err)
				}
			} else {
				_, _ = io.WriteString(ios.Out, r.Stdout)
				_, _ = io.WriteString(ios.ErrOut, r.Stderr)
			}
			return remoteStatus(o, r)
		},
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return execUsage(clierr.Usagef("%s", err.Error()).WithHint(cmdutil.FlagErrorHint(c, err, "")))
	})
	fl := cmd.Flags()
	fl.StringVar(&language, "language", "javascript", "javascript, typescript, python, ruby or shell")
	fl.StringVar(&install, "install", "never", "if-missing installs python or ruby first")
	cmdutil.CompleteWords(cmd, "language", "javascript", "typescript", "python", "ruby", "shell")
	cmdutil.CompleteWords(cmd, "install", "never", "if-missing")
	fl.StringVar(&file, "file", "", "read the code from `F`")
	fl.StringVar(&cwd, "cwd", "", "working `DIR` (relative to --root)")
	duration.Var(fl, &timeout, "timeout", 0, duration.Limits{AllowZero: true}, "kill the snippet after this long (exit 124): seconds or a duration such as 90s, 15m; 0 means no limit")
	return passesExit(cmd, "")
}
