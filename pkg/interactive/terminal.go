package interactive

import (
	"bytes"
	"io"
	"sync"
	"unicode/utf8"

	"golang.org/x/term"
)

// Terminal is the local terminal a session runs on. Line editing is done
// by golang.org/x/term's Terminal, which needs the terminal in raw mode
// while it reads.
type Terminal struct {
	// In is the terminal's input (os.Stdin for a command).
	In io.Reader
	// Out is the terminal's output (os.Stdout for a command): the prompt,
	// the echoed line and the commands' standard output go to it.
	Out io.Writer
	// MakeRaw puts the terminal in raw mode and returns what restores the
	// previous mode (term.MakeRaw and term.Restore on the input's fd).
	MakeRaw func() (restore func() error, err error)
	// Size returns the terminal's width and height; nil or an error keeps
	// 80x24.
	Size func() (width, height int, err error)
}

// DetachKeys is the key sequence that detaches from a process.
const DetachKeys = "Ctrl-P Ctrl-Q"

// Keys are read through keyReader, which turns the keys x/term's Terminal
// would misread into private-use runes that reach its AutoCompleteCallback:
// x/term ends ReadLine with io.EOF on Ctrl-C, like Ctrl-D, and has no
// notion of a detach sequence. Each sentinel is followed by a carriage
// return so that ReadLine returns at once.
//
// Ctrl-D is one too, without the carriage return: x/term returns io.EOF
// for it on an empty line without consuming it, so every later ReadLine
// met the same Ctrl-D again and returned io.EOF at once, for ever (an
// attach after Ctrl-D spun a CPU and no longer saw Ctrl-C or the detach
// keys). The editor deletes the character under the cursor for it, as
// x/term does, or on an empty line asks keyReader for the carriage return
// that ends the line as the end of input.
const (
	runeInterrupt = '\uE003' // Ctrl-C
	runeDetach    = '\uE011' // Ctrl-P Ctrl-Q
	runeEOF       = '\uE004' // Ctrl-D
)

const (
	keyCtrlC = 0x03
	keyCtrlD = 0x04
	keyCtrlP = 0x10
	keyCtrlQ = 0x11
)

// keyReader translates the raw input of a terminal for x/term.
type keyReader struct {
	in     io.Reader
	detach bool // recognise DetachKeys

	mu      sync.Mutex
	pending []byte // translated bytes not yet returned
	heldP   bool   // a Ctrl-P waiting to see whether Ctrl-Q follows
	raw     []byte
	enter   bool  // the next Read returns a carriage return (endLine)
	err     error // what ended the input, once it ended
}

// endLine has the next Read return a carriage return before anything
// else: the Ctrl-D that ended an empty line is read last in its Read, so
// nothing typed after it joins the line. Called by the editor between two
// Reads, from the goroutine reading.
func (k *keyReader) endLine() {
	k.mu.Lock()
	k.enter = true
	k.mu.Unlock()
}

// ended reports whether the input itself has ended (or failed): reading
// on only gets the same error again.
func (k *keyReader) ended() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err != nil
}

func newKeyReader(in io.Reader, detach bool) *keyReader {
	return &keyReader{in: in, detach: detach, raw: make([]byte, 256)}
}

func (k *keyReader) Read(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.enter && len(p) > 0 {
		k.enter = false
		p[0] = '\r'
		return 1, nil
	}
	for len(k.pending) == 0 {
		n, err := k.in.Read(k.raw)
		k.translate(k.raw[:n])
		if err != nil {
			k.err = err
			if k.heldP {
				k.pending = append(k.pending, keyCtrlP)
				k.heldP = false
			}
			if len(k.pending) == 0 {
				return 0, err
			}
			break
		}
	}
	chunk := k.pending
	// A Ctrl-D ends what this Read returns: the editor may have a line
	// end come right after it (endLine).
	if i := bytes.IndexRune(chunk, runeEOF); i >= 0 {
		chunk = chunk[:i+utf8.RuneLen(runeEOF)]
	}
	n := copy(p, chunk)
	k.pending = k.pending[n:]
	return n, nil
}

func (k *keyReader) translate(b []byte) {
	for _, c := range b {
		if k.heldP {
			k.heldP = false
			if c == keyCtrlQ {
				k.pending = utf8.AppendRune(k.pending, runeDetach)
				k.pending = append(k.pending, '\r')
				continue
			}
			k.pending = append(k.pending, keyCtrlP)
		}
		switch {
		case c == keyCtrlC:
			k.pending = utf8.AppendRune(k.pending, runeInterrupt)
			k.pending = append(k.pending, '\r')
		case c == keyCtrlD:
			k.pending = utf8.AppendRune(k.pending, runeEOF)
		case c == keyCtrlP && k.detach:
			k.heldP = true
		default:
			k.pending = append(k.pending, c)
		}
	}
}

// lineEditor is an x/term Terminal whose ReadLine tells Ctrl-C and the
// detach keys apart from the end of input.
type lineEditor struct {
	t    *term.Terminal
	keys *keyReader
	hist *guardedHistory

	mu          sync.Mutex
	interrupted bool
	detached    bool
	eof         bool // Ctrl-D on an empty line
}

// readWriter joins the key reader and the terminal's output.
type readWriter struct {
	io.Reader
	io.Writer
}

func newLineEditor(t Terminal, hist term.History, detach bool) *lineEditor {
	e := &lineEditor{keys: newKeyReader(t.In, detach)}
	e.t = term.NewTerminal(readWriter{e.keys, t.Out}, "")
	if hist == nil {
		hist = e.t.History
	}
	e.hist = &guardedHistory{History: hist, skip: e.discarding}
	e.t.History = e.hist
	e.t.AutoCompleteCallback = func(line string, pos int, key rune) (string, int, bool) {
		switch key {
		case runeInterrupt:
			e.mu.Lock()
			e.interrupted = true
			e.mu.Unlock()
			// Shown as a shell shows it; the line is dropped.
			return line + "^C", len(line) + 2, true
		case runeDetach:
			e.mu.Lock()
			e.detached = true
			e.mu.Unlock()
			return line, pos, true
		case runeEOF:
			if line == "" {
				e.mu.Lock()
				e.eof = true
				e.mu.Unlock()
				e.keys.endLine()
				return "", 0, true
			}
			// Deletes the character under the cursor, as x/term does.
			if pos < len(line) {
				_, size := utf8.DecodeRuneInString(line[pos:])
				line = line[:pos] + line[pos+size:]
			}
			return line, pos, true
		}
		return "", 0, false
	}
	if t.Size != nil {
		if w, h, err := t.Size(); err == nil && w > 0 && h > 0 {
			_ = e.t.SetSize(w, h)
		}
	}
	return e
}

func (e *lineEditor) discarding() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.interrupted || e.detached || e.eof
}

// key is what ended a ReadLine besides a line.
type key int

const (
	keyNone key = iota
	keyInterrupt
	keyDetach
	keyEOF
)

// readLine reads one line. The key says when the line was ended by Ctrl-C
// or the detach keys (the line is then to be dropped) or by the end of
// input (Ctrl-D on an empty line).
func (e *lineEditor) readLine() (string, key, error) {
	line, err := e.t.ReadLine()
	e.mu.Lock()
	intr, det, eof := e.interrupted, e.detached, e.eof
	e.interrupted, e.detached, e.eof = false, false, false
	e.mu.Unlock()
	switch {
	case det:
		return "", keyDetach, nil
	case intr:
		return "", keyInterrupt, nil
	case eof:
		return "", keyEOF, nil
	case err == io.EOF:
		return line, keyEOF, nil
	case err == term.ErrPasteIndicator:
		return line, keyNone, nil
	case err != nil:
		return line, keyNone, err
	}
	return line, keyNone, nil
}

// guardedHistory keeps dropped lines (interrupted ones) out of a history.
type guardedHistory struct {
	term.History
	skip func() bool
}

func (g *guardedHistory) Add(entry string) {
	if !g.skip() {
		g.History.Add(entry)
	}
}
