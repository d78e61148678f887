package cmdutil

import (
	"fmt"
	"runtime"
)

// NoteReadingTerminal tells a person at a terminal that the command now
// reads what they type as what ("the content"), and how to end it:
// without a word the command looks hung to someone who forgot a pipe or a
// file flag (instead says which). Nothing is written with --json (stderr
// then carries JSON objects only) or when stdin or stderr is not a
// terminal.
func (f *Factory) NoteReadingTerminal(what, instead string) {
	ios := f.IOStreams
	if f.JSON || !ios.IsStdinTTY() || !ios.IsStderrTTY() {
		return
	}
	eof := "Ctrl-D"
	if runtime.GOOS == "windows" {
		eof = "Ctrl-Z and Enter"
	}
	fmt.Fprintln(ios.ErrOut, ios.Styles().Muted(fmt.Sprintf("nimbus: reading %s from the terminal; end it with %s (%s)", what, eof, instead)))
}
