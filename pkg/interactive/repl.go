package interactive

import (
	"context"
	"io"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/term"
)

// Prompt describes the state shown before each line.
type Prompt struct {
	// SandboxID is the sandbox's id.
	SandboxID string
	// Cwd is the shell's directory, with the sandbox root shown as "~";
	// "" while it is unknown.
	Cwd string
	// Exit is the last line's exit code.
	Exit int
	// Continuation is set while a line ending with a backslash continues.
	Continuation bool
}

// PlainPrompt renders a prompt without styling: "job-1:~/app$ ", with the
// last exit code when it is not zero ("job-1:~/app [1]$ "), and "> " for
// a continued line.
func PlainPrompt(p Prompt) string {
	if p.Continuation {
		return "> "
	}
	var b strings.Builder
	b.WriteString(p.SandboxID)
	if p.Cwd != "" {
		b.WriteString(":" + p.Cwd)
	}
	if p.Exit != 0 {
		b.WriteString(" [" + strconv.Itoa(p.Exit) + "]")
	}
	b.WriteString("$ ")
	return b.String()
}

// InteractOptions configure Interact.
type InteractOptions struct {
	// Terminal is where lines are read, edited and echoed, and where the
	// commands' standard output goes.
	Terminal Terminal
	// Stderr receives the commands' standard error; nil means
	// Terminal.Out.
	Stderr io.Writer
	// History keeps the lines; nil keeps the last 100 in memory.
	History term.History
	// Interrupts delivers Ctrl-C pressed while a command runs: the
	// terminal is in its normal mode then, so Ctrl-C is a SIGINT to this
	// process, which the caller turns into values on this channel.
	Interrupts <-chan struct{}
	// Prompt renders the prompt; nil means PlainPrompt.
	Prompt func(Prompt) string
	// OnError is told about a line that nimbus could not run (transport,
	// credentials, server errors); it shows the error and returns the exit
	// code to remember for the line. Nil ends the session with the error.
	OnError func(error) int
	// OnWarning is told about problems that do not stop the session (the
	// history file cannot be written); nil ignores them.
	OnWarning func(error)
}

// Interact runs the shell on a terminal until Ctrl-D or "exit [N]" and
// returns the exit code to leave with: N, or the last line's code. Lines
// are edited with golang.org/x/term (arrows, Home/End, Ctrl-A/E/K/U/W,
// history with Up/Down), which needs raw mode only while a line is read;
// commands run with the terminal in its normal mode, so their output is
// shown as it would be locally. Ctrl-C at the prompt drops the line being
// typed; Ctrl-C while a command runs interrupts it (see Run). Cancelling
// ctx returns ctx's error at once, at the prompt too: a read of
// Terminal.In may then still be pending, and the caller owns that reader.
//
// Full-screen programs (editors, top) cannot run in this line mode.
func (s *Shell) Interact(ctx context.Context, o InteractOptions) (int, error) {
	if o.Prompt == nil {
		o.Prompt = PlainPrompt
	}
	stderr := o.Stderr
	if stderr == nil {
		stderr = o.Terminal.Out
	}
	ed := newLineEditor(o.Terminal, o.History, false)
	cwd := ""
	if d, err := s.Cwd(ctx); err == nil {
		cwd = d
	} else if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	warned := false
	var pending []string
	var joiner lineJoiner
	for {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		ed.t.SetPrompt(o.Prompt(Prompt{SandboxID: s.sb.ID(), Cwd: s.display(cwd), Exit: s.LastExit(), Continuation: len(pending) > 0}))
		if o.Terminal.Size != nil {
			if w, h, err := o.Terminal.Size(); err == nil && w > 0 && h > 0 {
				_ = ed.t.SetSize(w, h)
			}
		}
		line, k, err := s.readRaw(ctx, ed, o.Terminal)
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			return 0, err
		}
		if o.OnWarning != nil && !warned {
			if h, ok := o.History.(*History); ok && h.Err() != nil {
				warned = true
				o.OnWarning(h.Err())
			}
		}
		switch k {
		case keyInterrupt:
			pending = pending[:0]
			joiner.end()
			continue
		case keyEOF:
			if len(pending) > 0 {
				// Ctrl-D inside a continued line runs what was typed.
				line = ""
				break
			}
			_, _ = io.WriteString(o.Terminal.Out, "\r\n")
			return s.LastExit(), nil
		}
		cont := joiner.opens(line)
		pending = append(pending, line)
		if cont && k != keyEOF {
			continue
		}
		cmd := strings.Join(pending, "\n")
		pending = pending[:0]
		joiner.end()
		if code, ok := ParseExit(cmd, s.LastExit()); ok {
			return code, nil
		}
		if skippable(cmd) {
			continue
		}
		drain(o.Interrupts)
		out := &endTracker{w: o.Terminal.Out}
		errw := &endTracker{w: stderr, shared: out}
		if stderr != o.Terminal.Out {
			errw.shared = nil
		}
		code, rerr := s.Run(ctx, cmd, out, errw, o.Interrupts)
		if rerr != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			if o.OnError == nil {
				return 0, rerr
			}
			code := o.OnError(rerr)
			s.mu.Lock()
			s.last = code
			s.mu.Unlock()
			continue
		}
		if out.open() || errw.open() || code == ExitInterrupted {
			// Output that did not end its line, or the terminal's echo of
			// ^C, must not hide the prompt.
			_, _ = io.WriteString(o.Terminal.Out, "\n")
		}
		if d, err := s.Cwd(ctx); err == nil {
			cwd = d
		}
	}
}

// readRaw reads one line with the terminal in raw mode, until ctx ends:
// a read of a terminal cannot be interrupted, so a SIGTERM at the prompt
// (which cancels ctx) would otherwise wait for the next key, in raw mode.
// On cancellation the mode is restored and the read is left pending; the
// caller owns the terminal's reader.
func (s *Shell) readRaw(ctx context.Context, ed *lineEditor, t Terminal) (string, key, error) {
	if t.MakeRaw != nil {
		restore, err := t.MakeRaw()
		if err != nil {
			return "", keyNone, err
		}
		defer func() { _ = restore() }()
	}
	type read struct {
		line string
		k    key
		err  error
	}
	done := make(chan read, 1)
	go func() {
		line, k, err := ed.readLine()
		done <- read{line, k, err}
	}()
	select {
	case r := <-done:
		return r.line, r.k, r.err
	case <-ctx.Done():
		return "", keyNone, ctx.Err()
	}
}

// display shows cwd with the sandbox root as "~".
func (s *Shell) display(cwd string) string {
	root := strings.TrimRight(s.sb.Root(), "/")
	switch {
	case cwd == "" || root == "":
		return cwd
	case cwd == root:
		return "~"
	case strings.HasPrefix(cwd, root+"/"):
		return "~" + cwd[len(root):]
	}
	return cwd
}

// drain empties an interrupt channel of presses that came before a line.
func drain(c <-chan struct{}) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

// endTracker remembers whether the output written through it (or through
// the writer it shares a screen with) ended its line.
type endTracker struct {
	w      io.Writer
	shared *endTracker

	mu   sync.Mutex
	last byte
	any  bool
}

func (e *endTracker) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if n > 0 {
		t := e
		if e.shared != nil {
			t = e.shared
		}
		t.mu.Lock()
		t.last, t.any = p[n-1], true
		t.mu.Unlock()
	}
	return n, err
}

// open reports output whose last line has no newline.
func (e *endTracker) open() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.any && e.last != '\n'
}
