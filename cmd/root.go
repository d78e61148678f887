// Package cmd wires the nimbus command tree. It holds flags, configuration
// resolution and output only; the work is done by pkg/ and internal/.
package cmd

//go:generate go test -run TestCommandReference -update .

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	devcmd "github.com/nimbus-sh/nimbus/cmd/dev"
	initcmd "github.com/nimbus-sh/nimbus/cmd/init"
	runtimecmd "github.com/nimbus-sh/nimbus/cmd/runtime"
	sandboxcmd "github.com/nimbus-sh/nimbus/cmd/sandbox"
	sessioncmd "github.com/nimbus-sh/nimbus/cmd/session"
	setupcmd "github.com/nimbus-sh/nimbus/cmd/setup"
	tokencmd "github.com/nimbus-sh/nimbus/cmd/token"
	versioncmd "github.com/nimbus-sh/nimbus/cmd/version"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
)

// Main runs nimbus with the process's arguments and streams and returns the
// exit code. Ctrl-C and SIGTERM cancel the command's context so long
// operations can clean up before exiting.
func Main() int { return MainWith(cmdutil.New()) }

// MainWith is Main with the given dependencies; tests use it to run the
// real entry point, signal handling included, with a fixed clock.
func MainWith(f *cmdutil.Factory) int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		// Only the first signal cancels; later ones are swallowed while
		// the command cleans up (bounded by its own timeouts), so a second
		// Ctrl-C cannot cut a sandbox's destroy short.
		select {
		case s := <-sigs:
			cancel(signalCause{s})
		case <-ctx.Done():
		}
	}()
	return Run(ctx, f, os.Args[1:])
}

// signalCause records which signal cancelled the command, so that an
// interrupted command exits 128+N like a shell reports it: 130 for SIGINT,
// 143 for SIGTERM.
type signalCause struct{ sig os.Signal }

func (s signalCause) Error() string { return "interrupted by " + s.sig.String() }

// interruptedExit is the exit code of a command cancelled by ctx's signal.
func interruptedExit(ctx context.Context) int {
	var sc signalCause
	if errors.As(context.Cause(ctx), &sc) {
		if n, ok := sc.sig.(syscall.Signal); ok && n == syscall.SIGTERM {
			return 128 + int(n)
		}
	}
	return exitcode.Interrupted
}

// Run executes the command line args with the dependencies in f and
// returns the exit code. Tests call it with test streams.
func Run(ctx context.Context, f *cmdutil.Factory, args []string) int {
	root := NewRootCmd(f)
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
	var ce *clierr.Error
	if !errors.As(err, &ce) {
		if !started {
			// Cobra rejected the command line before any command ran:
			// an unknown command or a bad argument.
			ce = clierr.Usagef("%s", err.Error())
		} else {
			ce = clierr.Wrap(err, exitcode.Software, clierr.CodeInternal, err.Error(), "this is a bug in nimbus; please report it with the command you ran")
		}
	}
	if ce.Exit == exitcode.Interrupted {
		out := *ce
		out.Exit = interruptedExit(ctx)
		ce = &out
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
func NewRootCmd(f *cmdutil.Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "nimbus",
		Short: "Scaffold, provision and drive Nimbus sandboxes",
		Long: `nimbus scaffolds a Nimbus Worker project, provisions its Cloudflare resources,
mints and verifies session tokens, and drives remote sandboxes from CI.

Data goes to stdout and messages to stderr. With --json, or when stdout is not
a terminal, commands print machine-readable output.`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	cmdutil.MakeGroup(root)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return clierr.Usagef("%s", err.Error()).WithHint("run '" + c.CommandPath() + " --help' for usage")
	})
	pf := root.PersistentFlags()
	pf.BoolVar(&f.JSON, "json", false, "print machine-readable JSON")
	pf.BoolVar(&f.NoColor, "no-color", false, "disable colour (also NO_COLOR)")
	pf.StringVar(&f.ConfigFile, "config", "", "read configuration from `FILE` instead of ./nimbus.yaml and the user config")

	root.AddCommand(
		initcmd.NewCmdInit(f),
		tokencmd.NewCmdToken(f),
		sandboxcmd.NewCmdSandbox(f),
		sessioncmd.NewCmdSession(f),
		setupcmd.NewCmdSetup(f),
		runtimecmd.NewCmdRuntime(f),
		devcmd.NewCmdDev(f),
		versioncmd.NewCmdVersion(f),
	)
	root.InitDefaultCompletionCmd()
	root.InitDefaultHelpCmd()
	return root
}

// wrapRun records that a command started running, so errors returned
// before that (cobra's own parse errors) are reported as usage errors, and
// applies --no-color once flags are parsed.
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
		if f.NoColor {
			f.IOStreams.SetColorDisabled(true)
		}
		if runE != nil {
			return runE(cmd, args)
		}
		run(cmd, args)
		return nil
	}
}
