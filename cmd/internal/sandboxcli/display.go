package sandboxcli

import (
	"errors"
	"io"
	"strings"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/iostreams"
	"github.com/nimbus-sh/nimbus/internal/shellquote"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

// DisplayText returns a message as it is safe to print on one line: every
// path named in paths is shown with clierr.Printable, then what is left of
// control characters is dropped and newlines become "\n".
func DisplayText(msg string, paths ...string) string {
	for _, p := range paths {
		if p != "" {
			if d := clierr.Printable(p); d != p {
				msg = strings.ReplaceAll(msg, p, d)
			}
		}
	}
	return strings.ReplaceAll(strings.ReplaceAll(clierr.TerminalText(msg), "\n", `\n`), "\t", " ")
}

// FailureText renders a failure ("path: message") for a terminal, its
// path quoted when it holds control characters (see clierr.Printable).
func FailureText(f transfer.Failure) string {
	return DisplayText(f.String(), f.Path)
}

// CodeNotText is the code of a file that 'files read' refuses to write to
// a terminal.
const CodeNotText = "E_NOT_TEXT"

// TerminalOutput returns where a file's bytes go on their way to out: out
// itself unless out is a terminal, where a TextOnly writer lets only text
// through. Call finish with the copy's error: it checks the end of the
// data and turns a refusal into an error that says how to get the bytes.
func TerminalOutput(ios *iostreams.IOStreams, h Hints, path string) (w io.Writer, finish func(error) error) {
	if !ios.IsStdoutTTY() {
		return ios.Out, func(err error) error { return err }
	}
	g := iostreams.NewTextOnly(ios.Out)
	return g, func(err error) error {
		if err == nil {
			err = g.Close()
		}
		if errors.Is(err, iostreams.ErrNotText) {
			return clierr.New(exitcode.Usage, CodeNotText,
				DisplayText(path, path)+" is not text (binary, or control characters that would drive the terminal): not written to the terminal",
				h.onSandbox(func(arg string) string {
					return "redirect it to a file or a pipe, which get the bytes unchanged: nimbus sandbox files read " + arg + " " + shellquote.Quote(path) + " > FILE (or | xxd)"
				}, nil))
		}
		return err
	}
}
