// Package iostreams abstracts the process's standard streams so that
// commands can be tested with buffers and told whether each stream is a
// terminal, in the manner of the GitHub CLI's IOStreams.
package iostreams

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/nimbus-sh/nimbus/internal/style"
)

// IOStreams holds the three standard streams and what is known about them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY      bool
	stdoutTTY     bool
	stderrTTY     bool
	colorDisabled bool
	dumbTerminal  bool

	// stdinData is asked lazily: most commands never need it.
	stdinData func() bool
}

// System returns the streams of the current process. Whether colour is
// wanted (NO_COLOR, TERM=dumb, --no-color) is the command line's business:
// SetColorDisabled.
func System() *IOStreams {
	return &IOStreams{
		In:        os.Stdin,
		Out:       os.Stdout,
		ErrOut:    os.Stderr,
		stdinTTY:  isTerminal(os.Stdin),
		stdoutTTY: isTerminal(os.Stdout),
		stderrTTY: isTerminal(os.Stderr),
		stdinData: func() bool { return hasData(os.Stdin) },
	}
}

// Test returns streams backed by buffers, none of them a terminal.
func Test() (ios *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// hasData reports whether reading f would give data that nobody reads: a
// non-empty regular file, or a pipe or socket with data waiting. An empty
// pipe, one whose writer has not written (yet), a terminal and /dev/null
// do not count, and f is never waited on.
func hasData(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	switch m := fi.Mode(); {
	case m.IsRegular():
		return fi.Size() > 0
	case m&(os.ModeNamedPipe|os.ModeSocket) != 0:
		return pending(f)
	}
	return false
}

// StdinHasData reports whether standard input holds data (a non-empty
// file, or a pipe with data waiting), which a command that does not read
// it should mention.
func (s *IOStreams) StdinHasData() bool { return s.stdinData != nil && s.stdinData() }

// SetStdinHasData overrides StdinHasData.
func (s *IOStreams) SetStdinHasData(v bool) { s.stdinData = func() bool { return v } }

// IsStdinTTY reports whether standard input is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStdoutTTY reports whether standard output is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether standard error is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// SetStdinTTY overrides terminal detection for standard input.
func (s *IOStreams) SetStdinTTY(v bool) { s.stdinTTY = v }

// SetStdoutTTY overrides terminal detection for standard output.
func (s *IOStreams) SetStdoutTTY(v bool) { s.stdoutTTY = v }

// SetStderrTTY overrides terminal detection for standard error.
func (s *IOStreams) SetStderrTTY(v bool) { s.stderrTTY = v }

// SetColorDisabled turns styling off (--no-color).
func (s *IOStreams) SetColorDisabled(v bool) { s.colorDisabled = v }

// SetDumbTerminal records that the terminal cannot interpret escape
// sequences (TERM=dumb): it gets no colour and no line redrawn in place.
func (s *IOStreams) SetDumbTerminal(v bool) {
	s.dumbTerminal = v
	if v {
		s.colorDisabled = true
	}
}

// CanRedrawStderr reports whether stderr is a terminal on which a line can
// be erased and drawn again (a progress bar): a terminal that is not dumb.
// A dumb terminal shows each erase as literal text, so it gets no bar.
func (s *IOStreams) CanRedrawStderr() bool { return s.stderrTTY && !s.dumbTerminal }

// ColorEnabled reports whether human output on stderr may be styled: only
// on a terminal and only when neither NO_COLOR nor --no-color is set. Human
// output on stdout is only produced when stdout is a terminal too, so one
// answer serves both.
func (s *IOStreams) ColorEnabled() bool { return s.stderrTTY && !s.colorDisabled }

// Styles returns the styles matching ColorEnabled.
func (s *IOStreams) Styles() *style.Styles { return style.New(s.ColorEnabled()) }
