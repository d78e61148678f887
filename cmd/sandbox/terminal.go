package sandbox

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/localdev"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/localterm"
	"github.com/nimbus-sh/nimbus/pkg/interactive"
)

// terminal returns the process's terminal when standard input and output
// both are one (the only case where line editing makes sense) and the
// output is not --json. Raw mode and the size are localterm's, as for
// session attach (on Windows that also turns on VT sequences).
func (o *common) terminal() *interactive.Terminal {
	ios := o.f.IOStreams
	in, okIn := ios.In.(*os.File)
	out, okOut := ios.Out.(*os.File)
	if !okIn || !okOut || !ios.IsStdinTTY() || !ios.IsStdoutTTY() || o.f.JSON {
		return nil
	}
	lt := localterm.Open(in, out)
	if lt == nil {
		return nil
	}
	return &interactive.Terminal{
		In:  in,
		Out: out,
		MakeRaw: func() (func() error, error) {
			if err := lt.Raw(); err != nil {
				return nil, err
			}
			return func() error { lt.Restore(); return nil }, nil
		},
		Size: func() (int, int, error) {
			c, r, ok := lt.Size()
			if !ok {
				return 0, 0, errors.New("no window size")
			}
			return c, r, nil
		},
	}
}

// human reports whether stderr is for a person: a terminal, without
// --json (which keeps stderr to JSON objects).
func (o *common) human() bool { return o.f.IOStreams.IsStderrTTY() && !o.f.JSON }

// warn shows a problem that does not stop the command.
func (o *common) warn(code, msg, hint string) {
	o.f.Warn(&clierr.Warning{Code: code, Message: msg, Hint: hint})
}

// needServer refuses --local for commands that need processes or previews
// to outlive the command (what names the feature): the in-process backend
// stops when the command returns.
func (o *common) needServer(what string) error {
	if !o.lo.enabled {
		return nil
	}
	return clierr.Usagef("%s needs a backend that outlives the command, and --local stops with it: run `nimbus dev` and use its endpoint", what).
		WithHint("in another terminal: nimbus dev; then: export NIMBUS_ENDPOINT=http://" + localdev.DefaultAddr + " NIMBUS_TOKEN=$(nimbus dev token)")
}

// renderError shows err as the root command would, for a session that
// goes on after it (a shell line nimbus could not run).
func (o *common) renderError(cmd *cobra.Command, err error) {
	var ce *clierr.Error
	if !errors.As(err, &ce) {
		ce = clierr.Wrap(err, exitcode.Software, clierr.CodeInternal, err.Error(), "")
	}
	ios := o.f.IOStreams
	clierr.Render(ios.ErrOut, ce, clierr.RenderOptions{TTY: ios.IsStderrTTY(), JSON: o.f.JSON, CommandPath: cmd.CommandPath(), Styles: ios.Styles()})
}
