// Package cmd wires the nimbus command tree. It holds flags, configuration
// resolution and output only; the work is done by pkg/ and internal/.
package cmd

//go:generate go run ./gen-docs -markdown ../docs/reference

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	devcmd "github.com/nimbus-sh/nimbus/cmd/dev"
	doctorcmd "github.com/nimbus-sh/nimbus/cmd/doctor"
	initcmd "github.com/nimbus-sh/nimbus/cmd/init"
	mcpcmd "github.com/nimbus-sh/nimbus/cmd/mcp"
	runtimecmd "github.com/nimbus-sh/nimbus/cmd/runtime"
	sandboxcmd "github.com/nimbus-sh/nimbus/cmd/sandbox"
	sessioncmd "github.com/nimbus-sh/nimbus/cmd/session"
	setupcmd "github.com/nimbus-sh/nimbus/cmd/setup"
	tokencmd "github.com/nimbus-sh/nimbus/cmd/token"
	versioncmd "github.com/nimbus-sh/nimbus/cmd/version"
	"github.com/nimbus-sh/nimbus/internal/buildinfo"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
)

// Main runs nimbus with the process's arguments and streams and returns the
// exit code. Ctrl-C and SIGTERM cancel the command's context so long
// operations can clean up before exiting.
func Main() int { return MainWith(cmdutil.New()) }

// MainWith is Main with the given dependencies; tests use it to run the
// real entry point, signal handling included, with a fixed clock.
func MainWith(f *cmdutil.Factory) int {
	// nimbus re-executes itself as the init of local sandbox commands:
	// that runs here, before anything else.
	localsandbox.MaybeRunInit()
	f.Interrupts = interrupts
	return Run(context.Background(), f, os.Args[1:])
}

// interrupts cancels ctx on Ctrl-C or SIGTERM. It is installed only for
// the command that runs, and only when that command can take long (see
// cmdutil.Quick): watching signals costs the process a thread, a
// noticeable share of a command that takes 5 ms.
//
// The cause of the cancellation names the signal, so that an interrupted
// command exits 128+N as a shell reports it (130 for SIGINT, 143 for
// SIGTERM). Only the first signal cancels; later ones do not stop the
// command while it cleans up (bounded by its own timeouts), so a second
// Ctrl-C cannot cut a sandbox's destroy short: the cause passes them on
// (Later), for the command to say what it is still doing.
func interrupts(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	later := make(chan os.Signal, 1)
	go func() {
		select {
		case s := <-sigs:
			cancel(signalCause{s, later})
		case <-done:
			return
		}
		for {
			select {
			case s := <-sigs:
				select {
				case later <- s:
				default: // one not yet taken says enough
				}
			case <-done:
				return
			}
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

// signalCause is the cause of a context cancelled by a signal.
type signalCause struct {
	sig   os.Signal
	later chan os.Signal
}

func (s signalCause) Error() string { return "interrupted by " + s.sig.String() }

// Signal returns the signal, for commands that report it (sandbox run's
// "interrupted").
func (s signalCause) Signal() os.Signal { return s.sig }

// Later delivers the signals that arrive after the first, which do not
// stop the command.
func (s signalCause) Later() <-chan os.Signal { return s.later }

// signalExit makes an interrupted command's error exit 128+N for the
// signal that cancelled ctx (only SIGTERM differs from the 130 commands
// use for an interruption).
func signalExit(ctx context.Context, err error) error {
	var sc signalCause
	if err == nil || !errors.As(context.Cause(ctx), &sc) {
		return err
	}
	ce, ok := clierr.From(err)
	if !ok || ce.Exit != exitcode.Interrupted {
		return err
	}
	if n, ok := sc.sig.(syscall.Signal); ok && n == syscall.SIGTERM {
		out := *ce
		out.Exit = 128 + int(n)
		return &out
	}
	return err
}

// Run executes the command line args with the dependencies in f and
// returns the exit code. Tests call it with test streams.
func Run(ctx context.Context, f *cmdutil.Factory, args []string) int {
	root := newRoot(f, commandName(args))
	if boolFlag(args, "version") || slices.Contains(args, "-v") {
		root.Version = versioncmd.Version(buildinfo.Get())
	}
	// Errors cobra finds before it reaches --json or --no-color (an
	// unknown command or flag) are rendered as the command line asks.
	f.JSON = boolFlag(args, "json")
	f.NoColor = boolFlag(args, "no-color")
	// no-color.org: NO_COLOR set to anything; a dumb terminal cannot
	// render escape sequences either.
	if f.NoColor || f.Getenv("NO_COLOR") != "" {
		f.IOStreams.SetColorDisabled(true)
	}
	// A dumb terminal prints escape sequences as text: no colour, and no
	// progress bar (it is redrawn by erasing its line).
	if f.Getenv("TERM") == "dumb" {
		f.IOStreams.SetDumbTerminal(true)
	}
	root.SetArgs(args)
	root.SetIn(f.IOStreams.In)
	root.SetOut(f.IOStreams.Out)
	root.SetErr(f.IOStreams.ErrOut)

	started := false
	wrapRun(root, &started, f)

	c, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitcode.OK
	}
	ce, ok := clierr.From(err)
	if !ok {
		if !started {
			// Cobra rejected the command line before any command ran:
			// an unknown command or a bad argument.
			ce = clierr.Usagef("%s", err.Error())
		} else {
			ce = clierr.Wrap(err, exitcode.Software, clierr.CodeInternal, err.Error(), "this is a bug in nimbus; please report it with the command you ran")
		}
	}
	if ce.Hint == "" && ce.Exit == exitcode.Usage && c != nil {
		ce.Hint = "run '" + c.CommandPath() + " --help' for usage"
	}
	path := "nimbus"
	if c != nil {
		path = c.CommandPath()
	}
	clierr.Render(f.IOStreams.ErrOut, ce, clierr.RenderOptions{
		TTY:         f.IOStreams.IsStderrTTY(),
		JSON:        f.JSON,
		CommandPath: path,
		Styles:      f.IOStreams.Styles(),
	})
	return ce.Exit
}

// NewRootCmd builds the whole command tree.
func NewRootCmd(f *cmdutil.Factory) *cobra.Command { return newRoot(f, "") }

// topLevel are the top-level commands and their names, so that a command
// line naming one of them builds only its subtree: building all of them
// (every flag of every command) was a fifth of a short command's run.
// TestTopLevelNames holds the names to the commands.
var topLevel = [...]struct {
	name  string
	build func(*cmdutil.Factory) *cobra.Command
}{
	{"init", initcmd.NewCmdInit},
	{"token", tokencmd.NewCmdToken},
	{"sandbox", sandboxcmd.NewCmdSandbox},
	{"session", sessioncmd.NewCmdSession},
	{"setup", setupcmd.NewCmdSetup},
	{"runtime", runtimecmd.NewCmdRuntime},
	{"dev", devcmd.NewCmdDev},
	{"mcp", mcpcmd.NewCmdMCP},
	{"doctor", doctorcmd.NewCmdDoctor},
	{"version", versioncmd.NewCmdVersion},
}

// TopLevelNames lists the top-level commands Run can build alone.
func TopLevelNames() []string {
	names := make([]string, len(topLevel))
	for i, c := range topLevel {
		names[i] = c.name
	}
	return names
}

// commandName is the top-level command args name, or "" when they name
// none of topLevel (help, completion, a typo, only flags): then the whole
// tree is built, for help, completion and suggestions.
func commandName(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return ""
		case a == "--config":
			i++ // its value
		case strings.HasPrefix(a, "-"):
		default:
			for _, c := range topLevel {
				if c.name == a {
					return a
				}
			}
			return ""
		}
	}
	return ""
}

// newRoot builds the root command with every top-level command, or only
// the one named only.
func newRoot(f *cmdutil.Factory, only string) *cobra.Command {
	root := &cobra.Command{
		Use:   "nimbus",
		Short: "Scaffold, provision and drive Nimbus sandboxes",
		Long: `nimbus scaffolds a Nimbus Worker project, provisions its Cloudflare resources,
mints and verifies session tokens, and drives remote sandboxes from CI.

Data goes to stdout and messages to stderr. With --json, every command prints
JSON. Without it, commands that report data (lists, stats, summaries) print
JSON when stdout is not a terminal; those whose output is a value (a token, a
file's bytes, a command's output, the version) print it as it is.`,
		Example: `  nimbus sandbox exec --local demo -- echo hello
  nimbus init my-worker
  nimbus setup cloudflare --name my-worker --write-config
  nimbus token mint --tenant acme --scopes sandbox:use --sid job-123 --ttl 15m
  nimbus doctor`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	cmdutil.MakeGroup(root)
	// cobra's --version (and -v) print the same line as `nimbus version`.
	// No version template: a template makes text/template reachable, and
	// its calls by method name make the linker keep every exported method
	// of every type (2 MB more binary and start-up). The build info is
	// read only when the version is asked for (Run); until then Version
	// only has to be non-empty for cobra to define the flag.
	root.Version = "(unknown)"
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return clierr.Usagef("%s", cmdutil.FlagErrorText(err)).WithHint(cmdutil.FlagErrorHint(c, err, "run '"+c.CommandPath()+" --help' for usage"))
	})
	pf := root.PersistentFlags()
	pf.BoolVar(&f.JSON, "json", false, "print machine-readable JSON")
	pf.BoolVar(&f.NoColor, "no-color", false, "disable colour (also NO_COLOR, TERM=dumb)")
	pf.StringVar(&f.ConfigFile, "config", "", "read configuration from `FILE` instead of ./nimbus.yaml and the user config")

	for _, c := range topLevel {
		if only == "" || c.name == only {
			root.AddCommand(c.build(f))
		}
	}
	if only == "" {
		// cobra's completion commands keep the writer they see when made.
		root.SetOut(f.IOStreams.Out)
		root.InitDefaultCompletionCmd()
		root.InitDefaultHelpCmd()
		if c, _, err := root.Find([]string{"help"}); err == nil && c.Name() == "help" {
			cmdutil.GuardHelpTopics(c)
		}
		// cobra's completion group prints its help and exits 0 for an
		// unknown shell; as a group of ours it is a usage error (64).
		if c, _, err := root.Find([]string{"completion"}); err == nil && c.Name() == "completion" {
			cmdutil.MakeGroup(c)
		}
	} else {
		// cobra would add its completion commands (and their flags) on
		// every run; a command line that names a command needs none.
		root.CompletionOptions.DisableDefaultCmd = true
	}
	return root
}

// boolFlag reports whether args set the boolean flag --name (--name or
// --name=true) before a "--" that ends the flags.
func boolFlag(args []string, name string) bool {
	on := false
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "--"+name {
			on = true
		} else if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			if b, err := strconv.ParseBool(v); err == nil {
				on = b
			}
		}
	}
	return on
}

// wrapRun records that a command started running, so errors returned
// before that (cobra's own parse errors) are reported as usage errors,
// applies --no-color once flags are parsed, and watches for interrupts
// while a command that can take long runs.
func wrapRun(c *cobra.Command, started *bool, f *cmdutil.Factory) {
	for _, sub := range c.Commands() {
		wrapRun(sub, started, f)
	}
	if c.RunE == nil && c.Run == nil {
		return
	}
	run, runE := c.Run, c.RunE
	c.Run = nil
	c.RunE = func(cmd *cobra.Command, args []string) error {
		*started = true
		f.CommandPath = cmd.CommandPath()
		// The global --config (setup's own --config shadows it there).
		if fl := cmd.Root().PersistentFlags().Lookup("config"); fl != nil {
			f.ConfigEmpty = fl.Changed && f.ConfigFile == ""
		}
		if f.NoColor {
			f.IOStreams.SetColorDisabled(true)
		}
		if f.Interrupts != nil && !cmdutil.IsQuick(cmd) {
			ctx, stop := f.Interrupts(cmd.Context())
			defer stop()
			cmd.SetContext(ctx)
			if runE != nil {
				return signalExit(ctx, runE(cmd, args))
			}
		}
		if runE != nil {
			return runE(cmd, args)
		}
		run(cmd, args)
		return nil
	}
}
