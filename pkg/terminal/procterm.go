package terminal

import (
	"context"
	"errors"
	"strconv"

	"github.com/coder/websocket"

	"github.com/nimbus-sh/nimbus/pkg/terminal/frame"
)

// On a Worker, a full-screen program started from the shell (an "attached
// TTY" npm bin, such as opencode) does not run on the session socket: the
// shell announces it with a spawn frame and goes back to its prompt, and
// the program's I/O runs on /s/<id>/api/logs/<pid> (spec §9). Following
// it means sending the keys and window sizes there and printing its
// output, while the shell's own output is held until it exits.

// A process terminal can die silently as the session socket can (a
// Durable Object reset drops it without a close frame), and then the
// program's screen freezes while the shell's socket stays healthy. It has
// a liveness probe of its own, on the session's timings (ProbeAfter,
// DeadAfter): its protocol answers every client frame with stdin-ack
// (spec §9), so after ProbeAfter of silence an empty input frame is sent,
// which the process reads as nothing; when nothing at all arrives within
// DeadAfter, the socket is abandoned and opened again (refollow, the path
// a reconnection of the session socket takes). The session socket's probe
// (fs-watch-unsubscribe) is not a process-terminal frame.

// procTerm is a followed process terminal.
type procTerm struct {
	pid     int64
	command string
	ws      *websocket.Conn
	msgs    chan message
	cancel  context.CancelFunc
	sent    [2]int
	live    liveness // from when the socket opened
}

// follow opens the process terminal of pid and routes the input to it.
func (s *session) follow(ctx context.Context, pid int64, command string) {
	if s.proc != nil {
		// One at a time; the other is reported as not followed.
		s.notify(Event{Kind: EventProcessTerminal, PID: pid, Command: command})
		return
	}
	ws, tok, err := s.d.dial(ctx, "/api/logs/"+strconv.FormatInt(pid, 10))
	if err != nil {
		s.notify(Event{Kind: EventProcessTerminal, PID: pid, Command: command, Err: err})
		return
	}
	pctx, cancel := context.WithCancel(context.Background())
	p := &procTerm{pid: pid, command: command, ws: ws, msgs: make(chan message, 16), cancel: cancel, live: newLiveness()}
	go readConn(pctx, ws, tok, p.msgs)
	s.proc = p
	s.notify(Event{Kind: EventProcessAttached, PID: pid, Command: command})
	if s.o.Terminal && s.o.Size != nil {
		if cols, rows, ok := s.o.Size(); ok {
			p.resize(ctx, cols, rows)
		}
	}
}

// refollow opens the followed process terminal again once the session
// socket is back (the old one went through the same outage, and a socket
// that died silently would swallow the keys until TCP gave up), or when
// its own liveness probe went unanswered (checkProc). The server
// sends the backlog again (the program redraws) or, when the process has
// exited meanwhile, its exit. When it cannot be opened, the shell gets
// the keys back and the program is reported as not followed.
func (s *session) refollow(ctx context.Context) error {
	p := s.proc
	if p == nil {
		return nil
	}
	s.closeProc()
	s.follow(ctx, p.pid, p.command)
	if s.proc == nil {
		return s.flushHeld()
	}
	return nil
}

// handleProc acts on one message of the followed process terminal.
func (s *session) handleProc(ctx context.Context, ws *websocket.Conn, m message) error {
	p := s.proc
	if p == nil {
		return nil
	}
	if m.err != nil {
		return s.unfollow(ctx, ws, nil, m.err)
	}
	// Any message, a stdin-ack included, proves the socket alive.
	p.live.heard()
	f, err := frame.Decode(m.data)
	if err != nil {
		return nil
	}
	switch f.Type {
	case frame.TypeBacklog:
		for _, c := range f.Chunks {
			if err := s.raw([]byte(c.Data)); err != nil {
				return err
			}
		}
	case frame.TypeChunk:
		return s.raw([]byte(f.Data))
	case frame.TypeExit:
		return s.unfollow(ctx, ws, f.Code, nil)
	case frame.TypeNotFound:
		return s.unfollow(ctx, ws, nil, errors.New("the server does not know the process"))
	}
	return nil
}

// raw writes a process's output, which is not part of the shell's
// scrollback.
func (s *session) raw(data []byte) error {
	if len(data) > 0 {
		s.shown++
	}
	if _, err := s.o.Out.Write(data); err != nil {
		return &Error{Code: CodeInput, Message: "writing the output failed", Err: err}
	}
	return nil
}

// unfollow goes back to the shell: the held output is printed and the
// window size sent again, so that the shell redraws.
func (s *session) unfollow(ctx context.Context, ws *websocket.Conn, code *int, err error) error {
	p := s.proc
	s.closeProc()
	s.notify(Event{Kind: EventProcessDetached, PID: p.pid, Code: code, Err: err})
	if err := s.flushHeld(); err != nil {
		return err
	}
	s.sent = [2]int{}
	_ = s.sendSize(ctx, ws)
	return nil
}

// closeProc closes the process terminal, if any.
func (s *session) closeProc() {
	if p := s.proc; p != nil {
		s.proc = nil
		p.cancel()
		go closeSocket(p.ws, websocket.StatusNormalClosure, "")
	}
}

// hold keeps shell output while a process terminal is followed, the
// newest heldLimit bytes.
func (s *session) hold(data []byte) {
	if len(data) > 0 {
		s.shown++
	}
	s.held = append(s.held, data...)
	if len(s.held) > heldLimit {
		s.held = append(s.held[:0], s.held[len(s.held)-heldLimit:]...)
	}
}

// flushHeld prints the held shell output.
func (s *session) flushHeld() error {
	if len(s.held) == 0 {
		return nil
	}
	data := s.held
	s.held = nil
	return s.output(data)
}

// checkProc runs the followed process terminal's liveness probe (see
// procTerm): it sends the probe after ProbeAfter of silence, and opens
// the process terminal again when the probe went unanswered for
// DeadAfter.
func (s *session) checkProc(ctx context.Context) error {
	p := s.proc
	if p == nil {
		return nil
	}
	switch p.live.due(s.o.ProbeAfter, s.o.DeadAfter) {
	case probeSend:
		p.live.probed()
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		defer cancel()
		// A failure shows as the end of the socket, or as no answer.
		_ = p.ws.Write(wctx, websocket.MessageText, frame.Input(""))
	case probeDead:
		return s.refollow(ctx)
	}
	return nil
}

func (p *procTerm) input(ctx context.Context, b []byte) error {
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	// A failure shows as the end of the socket, which unfollows.
	_ = p.ws.Write(wctx, websocket.MessageText, frame.Input(string(b)))
	return nil
}

func (p *procTerm) endInput(ctx context.Context) {
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	_ = p.ws.Write(wctx, websocket.MessageText, frame.StdinEnd())
}

// resize sends a process terminal its size (1–1000 there), when changed.
func (p *procTerm) resize(ctx context.Context, cols, rows int) {
	cols, rows = min(cols, 1000), min(rows, 1000)
	if p.sent == [2]int{cols, rows} {
		return
	}
	p.sent = [2]int{cols, rows}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	_ = p.ws.Write(wctx, websocket.MessageText, frame.ProcessResize(cols, rows))
}
