// Package localterm is the local terminal of a full-screen command
// (`nimbus session attach`): raw mode that is restored however the command
// ends, the window size, and notice of its changes (SIGWINCH on Unix, a
// poll on Windows, which has no such signal).
package localterm

import (
	"io"
	"os"
	"sync"

	"golang.org/x/term"
)

// Terminal is a terminal on standard input (and usually output).
type Terminal struct {
	in      *os.File
	out     *os.File // the output when it is the terminal too, else nil
	mu      sync.Mutex
	restore []func() // undo steps of Raw, newest last
}

// Open returns the terminal of in, or nil when in is not one. out is
// used for the window size and output modes when it is a terminal.
func Open(in io.Reader, out io.Writer) *Terminal {
	f, ok := in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	t := &Terminal{in: f}
	if o, ok := out.(*os.File); ok && term.IsTerminal(int(o.Fd())) {
		t.out = o
	}
	return t
}

// Raw puts the terminal in raw mode: keys arrive as typed (Ctrl-C as a
// byte, not a signal) and output is not processed, so line ends must be
// written as "\r\n". Call Restore when done; it is safe to call more
// than once and from a signal handler's goroutine.
func (t *Terminal) Raw() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	fd := int(t.in.Fd())
	st, err := term.MakeRaw(fd)
	if err != nil {
		return err
	}
	t.restore = append(t.restore, func() { _ = term.Restore(fd, st) })
	if undo := enableVT(t.in, t.out); undo != nil {
		t.restore = append(t.restore, undo)
	}
	return nil
}

// Restore undoes Raw.
func (t *Terminal) Restore() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := len(t.restore) - 1; i >= 0; i-- {
		t.restore[i]()
	}
	t.restore = nil
}

// Size returns the window size in columns and rows.
func (t *Terminal) Size() (cols, rows int, ok bool) {
	f := t.in
	if t.out != nil {
		f = t.out
	}
	c, r, err := term.GetSize(int(f.Fd()))
	if err != nil || c <= 0 || r <= 0 {
		return 0, 0, false
	}
	return c, r, true
}
