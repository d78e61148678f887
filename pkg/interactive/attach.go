package interactive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// AttachOptions configure Attach.
type AttachOptions struct {
	// Terminal, when set, is a terminal held in raw mode for the whole
	// session: lines are edited locally and sent on Enter, Ctrl-D ends the
	// process's input, Ctrl-C sends it SIGINT, and DetachKeys leave it
	// running. Its output is written to the terminal around the line being
	// typed.
	Terminal *Terminal
	// In, without a Terminal, is copied to the process's input as it is
	// read; at its end the input is closed. Nil sends nothing.
	In io.Reader
	// Stdout and Stderr receive the process's output without a Terminal.
	Stdout, Stderr io.Writer
	// Output, when set, receives each batch of output instead of Stdout
	// and Stderr (to render it another way, as JSON lines).
	Output func(*sc.Logs) error
	// Lines is the tail of earlier output shown first (0: the server's
	// default of 200 lines; sandboxclient.FollowNew: none, only output
	// written from the attach on).
	Lines int64
	// Interval is the log polling interval (clamped to 25ms–5s) while
	// input can still be sent and while output flows. Once no more input
	// can come (In at its end, the Terminal's Ctrl-D, or neither given),
	// polls that find nothing new wait longer and longer, up to
	// IdleInterval (or Interval when longer); output or a signal sent
	// brings the wait back to Interval.
	Interval time.Duration
	// Resize delivers changes of the terminal size (SIGWINCH); the size is
	// also sent once at the start. Needs a Terminal with Size.
	Resize <-chan struct{}
	// OnWarning is told about input that could not be delivered, output
	// that was lost (a *LostOutputError, once per attach) and other
	// problems that do not end the session; nil ignores them.
	OnWarning func(error)
}

// IdleInterval is the longest wait between two polls of an attach that
// can send no more input and whose process is quiet: its exit or next
// output shows at most this late, and following it costs one request
// every IdleInterval instead of one every Interval. It is the
// sandboxclient.Pacer's, as for logs -f.
const IdleInterval = sc.IdleInterval

// CodeOutputLost is the stable code of a LostOutputError, the same as the
// warning of `sandbox logs -f` for the same loss.
const CodeOutputLost = "W_LOGS_LOST"

// LostOutputError says that output of the attached process is missing: the
// sandbox's log ring dropped it between two polls (sc.Logs.Lost), a process
// writing faster than it was polled. What was dropped is gone; the session
// goes on, and the output shown is not the whole output.
type LostOutputError struct {
	// PID is the attached process.
	PID int64
}

// Error says what was lost, and where.
func (e *LostOutputError) Error() string {
	return fmt.Sprintf("some output of process %d was lost: the sandbox's log ring dropped it before it was polled", e.PID)
}

// AttachResult says how an attach ended.
type AttachResult struct {
	// Exit is the process's exit, nil when detached.
	Exit *sc.LogExit
	// Detached is set when the user left with DetachKeys.
	Detached bool
}

// Attach follows the output of process pid (as logs -f does) and forwards
// input to it with writeProcessInput, until the process exits, the user
// detaches, or ctx ends. Input is text: it is sent in whole UTF-8
// characters. The terminal size is sent with resizeProcess (a server
// whose process has no terminal ignores it).
//
// With a Terminal, a read of Terminal.In may still be pending when Attach
// returns: the caller owns that reader.
func Attach(ctx context.Context, sb *sc.Sandbox, pid int64, o AttachOptions) (*AttachResult, error) {
	return attachAt(ctx, sb, pid, o, time.After)
}

// attachAt is Attach with the timers of its polling from after.
func attachAt(ctx context.Context, sb *sc.Sandbox, pid int64, o AttachOptions, after func(time.Duration) <-chan time.Time) (*AttachResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// With neither Terminal nor In nothing will be sent: idle from the
	// start.
	a := &attach{sb: sb, pid: pid, o: o, detach: make(chan struct{}), pace: sc.NewPacer(o.Interval, o.Terminal == nil && o.In == nil, after)}
	var out func(l *sc.Logs) error
	if o.Terminal != nil {
		if o.Terminal.MakeRaw != nil {
			restore, err := o.Terminal.MakeRaw()
			if err != nil {
				return nil, err
			}
			defer func() { _ = restore() }()
		}
		a.ed = newLineEditor(*o.Terminal, nil, true)
		out = func(l *sc.Logs) error {
			for _, c := range l.Chunks {
				if _, err := a.ed.t.Write([]byte(c.Data)); err != nil {
					return err
				}
			}
			return nil
		}
		a.resize(ctx)
		go a.resizes(ctx)
		go a.readTerminal(ctx)
	} else if o.Output != nil {
		out = o.Output
		if o.In != nil {
			go a.copyInput(ctx)
		}
	} else {
		out = func(l *sc.Logs) error {
			for _, c := range l.Chunks {
				w := o.Stdout
				if c.Stream == "stderr" {
					w = o.Stderr
				}
				if w == nil {
					continue
				}
				if _, err := io.WriteString(w, c.Data); err != nil {
					return err
				}
			}
			return nil
		}
		if o.In != nil {
			go a.copyInput(ctx)
		}
	}
	type result struct {
		exit *sc.LogExit
		err  error
	}
	done := make(chan result, 1)
	lost := false
	follow := func(l *sc.Logs) error {
		if l.Lost && !lost {
			// Said once, where it happened: the output shown around it
			// must not pass for the whole output.
			lost = true
			a.warn(&LostOutputError{PID: pid})
		}
		return out(l)
	}
	go func() {
		exit, err := sb.FollowLogsPaced(ctx, pid, o.Lines, a.pace.Wait, follow)
		done <- result{exit, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, r.err
		}
		return &AttachResult{Exit: r.exit}, nil
	case <-a.detach:
		return &AttachResult{Detached: true}, nil
	}
}

type attach struct {
	sb     *sc.Sandbox
	pid    int64
	o      AttachOptions
	ed     *lineEditor
	detach chan struct{}
	once   sync.Once
	pace   *sc.Pacer
}

func (a *attach) warn(err error) {
	if a.o.OnWarning != nil && err != nil && !errors.Is(err, context.Canceled) {
		a.o.OnWarning(err)
	}
}

// send writes data to the process's input; false when it has no input
// any more.
func (a *attach) send(ctx context.Context, data string) bool {
	ack, err := a.sb.WriteProcessInput(ctx, a.pid, data)
	if err != nil {
		a.warn(err)
		return false
	}
	if !ack.OK {
		a.warn(&sc.Error{Code: sc.CodeInvalidArgument, Message: "the process does not take input any more"})
		return false
	}
	return true
}

func (a *attach) end(ctx context.Context) {
	if _, err := a.sb.EndProcessInput(ctx, a.pid); err != nil {
		a.warn(err)
	}
}

// copyInput forwards a stream, holding back a partial UTF-8 character at
// the end of a read until the rest arrives.
func (a *attach) copyInput(ctx context.Context) {
	// However it ends, nothing more is sent.
	defer a.pace.Idle()
	buf := make([]byte, 32<<10)
	var carry []byte
	for {
		n, err := a.o.In.Read(buf)
		data := append(carry, buf[:n]...)
		carry = nil
		if err == nil {
			if cut := partialRune(data); cut > 0 {
				carry = append([]byte(nil), data[len(data)-cut:]...)
				data = data[:len(data)-cut]
			}
		}
		if len(data) > 0 && !a.send(ctx, string(data)) {
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				if !errors.Is(err, io.EOF) {
					a.warn(err)
				}
				a.end(ctx)
			}
			return
		}
	}
}

// partialRune returns the length of an incomplete UTF-8 sequence ending b.
func partialRune(b []byte) int {
	for i := 1; i <= 3 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < 0x80 {
			return 0
		}
		if c >= 0xC0 {
			if utf8.FullRune(b[len(b)-i:]) {
				return 0
			}
			return i
		}
	}
	return 0
}

// readTerminal reads edited lines and the control keys.
func (a *attach) readTerminal(ctx context.Context) {
	// A terminal that can no longer be read sends nothing more either.
	defer a.pace.Idle()
	closed := false
	for ctx.Err() == nil {
		line, k, err := a.ed.readLine()
		if err != nil {
			return
		}
		switch k {
		case keyDetach:
			a.once.Do(func() { close(a.detach) })
			return
		case keyInterrupt:
			if _, err := a.sb.SignalProcess(ctx, a.pid, "SIGINT"); err != nil {
				a.warn(err)
			}
			a.pace.Wake()
		case keyEOF:
			if !closed {
				closed = true
				a.end(ctx)
				a.pace.Idle()
			}
			if a.ed.keys.ended() {
				// The terminal's input itself ended: reading on
				// would only meet that end again, at once.
				return
			}
		default:
			if closed {
				a.warn(&sc.Error{Code: sc.CodeInvalidArgument, Message: "the process's input is closed (" + DetachKeys + " detaches)"})
				continue
			}
			a.send(ctx, line+"\n")
		}
	}
}

func (a *attach) resize(ctx context.Context) {
	if a.o.Terminal == nil || a.o.Terminal.Size == nil {
		return
	}
	w, h, err := a.o.Terminal.Size()
	if err != nil || w <= 0 || h <= 0 {
		return
	}
	_ = a.ed.t.SetSize(w, h)
	// Servers answer ok:false for a process without a terminal, and old
	// ones do not know the op: neither is worth a word.
	_, _ = a.sb.ResizeProcess(ctx, a.pid, w, h)
}

func (a *attach) resizes(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-a.o.Resize:
			if !ok {
				return
			}
			a.resize(ctx)
		}
	}
}
