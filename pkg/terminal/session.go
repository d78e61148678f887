package terminal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/coder/websocket"

	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/terminal/frame"
)

const (
	// writeTimeout bounds one frame's write; a server that does not take
	// it is treated as gone.
	writeTimeout = 10 * time.Second
	// closeTimeout bounds the closing handshake of a socket.
	closeTimeout = 2 * time.Second
	// resizeDebounce coalesces the burst of window changes of a drag.
	resizeDebounce = 50 * time.Millisecond
	// typeaheadLimit bounds the keys kept until the first connection.
	typeaheadLimit = 4 << 10
	// heldLimit bounds the shell output kept while a process terminal is
	// followed.
	heldLimit = 1 << 20
	// firstMaxWait is the longest Retry-After waited out before the first
	// connection: the sandbox client's cap, so that a busy server bounds
	// `session attach` as it bounds `sandbox exec`.
	firstMaxWait = sandboxclient.DefaultMaxWait
	// retryAfterLimit bounds one wait while reconnecting (within
	// Options.Reconnect): the server is asked again after it.
	retryAfterLimit = 5 * time.Minute
)

// Attach connects to the terminal of session o.SessionID and relays it
// until the user detaches, the input ends (Options.Terminal false), the
// server ends the session, or a failure (*Error) the connection cannot
// recover from. Cancelling ctx closes the socket cleanly and returns
// ctx.Err().
//
// Attach returns without waiting for a read of o.In that is in progress
// (a reader that cannot be interrupted, a terminal, keeps one goroutine
// until its Read returns), except that piped input closed normally by
// the server is given up to a second to say whether it had ended.
func Attach(ctx context.Context, o Options) (Result, error) {
	o.defaults()
	if o.In == nil || o.Out == nil {
		return Result{}, &Error{Code: CodeInvalidArgument, Message: "terminal: In and Out are required"}
	}
	d, err := newDialer(&o)
	if err != nil {
		return Result{}, err
	}
	s := &session{o: &o, d: d, in: make(chan []byte), inErr: make(chan error, 1), stop: make(chan struct{})}
	if o.Terminal {
		s.det = newDetacher(o.DetachKeys)
	}
	defer close(s.stop)
	go s.readInput()
	return s.run(ctx)
}

// session is the state of one Attach.
type session struct {
	o   *Options
	d   *dialer
	det *detacher

	in     chan []byte // chunks of input
	inErr  chan error  // the input's end: io.EOF or a failure
	inDone bool
	stop   chan struct{}

	carry   frame.Carry
	hist    history
	sent    [2]int // the last window size sent on this connection
	unsent  []byte // an input frame whose write failed: sent first after a reconnect
	dropped bool   // EventKeysDropped was sent for this disconnection
	// typeahead is what was typed before the first connection opened;
	// connected says it did.
	typeahead []byte
	connected bool
	probes    int
	// endProbe is the request id of the probe sent on this connection
	// once piped input ended, "" before; endAt is when it went out, and
	// endHeard says its answer came back.
	endProbe string
	endAt    time.Time
	endHeard bool
	// delivered says a server confirmed the end of piped input (on any
	// connection): all of it reached the shell. sentInput says there was
	// input to deliver: some was sent, or is held to be sent.
	delivered, sentInput bool
	// inputProbe is the request id of the probe sent after the last
	// piped input frame (on the connection that took it), and
	// inputHeard says its answer came back: the server has all of the
	// input sent so far, whether or not its end was seen yet.
	inputProbe string
	inputHeard bool

	// tok is the token the session socket being served was dialled
	// with, which its close reasons are redacted with. Never shown.
	tok string

	proc *procTerm // the process terminal followed, if any
	held []byte    // shell output held while proc is followed
	// shown counts the pieces of output received (printed or held), so
	// that only output restarts the quiet period after piped input.
	shown int
}

func (s *session) notify(e Event) {
	if s.o.Notify != nil {
		s.o.Notify(e)
	}
}

// readInput hands each chunk of input to the session, and then its end.
func (s *session) readInput() {
	defer func() {
		if r := recover(); r != nil {
			select {
			case s.inErr <- fmt.Errorf("reading the input panicked: %v", r):
			default:
			}
		}
	}()
	for {
		buf := make([]byte, 32<<10)
		n, err := s.o.In.Read(buf)
		if n > 0 {
			select {
			case s.in <- buf[:n]:
			case <-s.stop:
				return
			}
		}
		if err != nil {
			select {
			case s.inErr <- err:
			case <-s.stop:
			}
			return
		}
	}
}

// outage is one stretch of reconnecting. It goes on across connections
// that drop again soon after they open (a server that accepts the socket
// and then fails it), so that those are paced by the retry delay and
// bounded by Options.Reconnect like attempts that fail outright.
type outage struct {
	start time.Time
	wait  time.Duration // before the next dial: 0 when the last connection was stable
}

// stableAfter is how long a connection must have lasted for its drop to
// start a new outage (with an immediate redial and a fresh Reconnect
// window): the longest retry delay.
func (o *Options) stableAfter() time.Duration { return 10 * o.RetryDelay }

// run connects, serves, and reconnects while that is what the end of a
// connection calls for.
func (s *session) run(ctx context.Context) (Result, error) {
	var lost error
	var out *outage
	for reconnecting := false; ; reconnecting = true {
		ws, res, err := s.connect(ctx, out, lost)
		if ws == nil {
			return res, err
		}
		opened := time.Now()
		var again bool
		res, err, again = s.serve(ctx, ws, reconnecting)
		if !again {
			return res, err
		}
		if s.o.Reconnect <= 0 {
			return Result{}, &Error{Code: CodeUnavailable, Message: "the connection to the terminal was lost", Err: err}
		}
		lost = err
		switch {
		case out == nil || time.Since(opened) >= s.o.stableAfter() && s.confirmed():
			out = &outage{start: time.Now()}
		case out.wait == 0:
			out.wait = s.o.RetryDelay
		default:
			out.wait = min(out.wait*3/2, 10*s.o.RetryDelay)
		}
	}
}

// confirmed says the last connection did what piped input that ended
// needs: the server confirmed the input. One that did not restored
// nothing, however long it lasted, so that its loss does not open a fresh
// Reconnect window: a server that accepts each socket and then answers
// nothing would otherwise be redialled for ever.
func (s *session) confirmed() bool { return s.o.Terminal || !s.inDone || s.endHeard }

// connect dials until it gets a socket, retrying what the options allow,
// while the input is serviced (the detach keys and Ctrl-C work). out is
// the outage being recovered from, nil for the first connection.
func (s *session) connect(ctx context.Context, out *outage, lost error) (*websocket.Conn, Result, error) {
	reconnecting := out != nil
	start := time.Now()
	delay := s.o.RetryDelay
	busyFor := s.o.Wait
	if reconnecting {
		// The old socket may still count as the owner for a while after
		// an unclean drop: that 409 is waited out too.
		busyFor = max(busyFor, s.o.Reconnect)
		start = out.start
		s.notify(Event{Kind: EventDisconnected, Err: lost, Delay: out.wait})
		if out.wait > 0 {
			// The last connection dropped soon after it opened: it did
			// not restore anything.
			if time.Since(start) >= s.o.Reconnect {
				return nil, Result{}, &Error{Code: CodeUnavailable, Message: fmt.Sprintf("the connection to the terminal was lost and not restored within %s", s.o.Reconnect), Err: lost}
			}
			if res, err, ended := s.sleepIdle(ctx, out.wait); ended {
				return nil, res, err
			}
			delay = max(delay, min(out.wait*3/2, 10*s.o.RetryDelay))
		}
	}
	s.dropped = false
	for attempt := 1; ; attempt++ {
		ws, tok, res, err, ended := s.dialIdle(ctx, "/ws")
		if ended {
			return nil, res, err
		}
		if err == nil {
			s.tok = tok
			return ws, Result{}, nil
		}
		retry, busy := retryable(err)
		elapsed := time.Since(start)
		var e *Error
		errors.As(err, &e)
		wait := delay
		switch {
		case busy && elapsed < busyFor:
			wait = s.o.RetryDelay
			s.notify(Event{Kind: EventBusy, Err: err, Delay: wait})
		case retry && reconnecting && elapsed < s.o.Reconnect:
			s.notify(Event{Kind: EventRetrying, Err: err, Delay: wait})
		case retry && !busy && !reconnecting && e.Status >= 500 && attempt < 3:
			s.notify(Event{Kind: EventRetrying, Err: err, Delay: wait})
		case retry && !busy && reconnecting:
			return nil, Result{}, &Error{Code: CodeUnavailable, Message: fmt.Sprintf("the connection to the terminal was lost and not restored within %s", s.o.Reconnect), Err: err}
		default:
			return nil, Result{}, err
		}
		if e != nil && e.RetryAfter > wait {
			if reconnecting && elapsed+e.RetryAfter > s.o.Reconnect {
				// The server will not take the session back before the
				// window ends: waiting as it says would hold the caller
				// past Reconnect only to fail then.
				return nil, Result{}, &Error{Code: CodeUnavailable, Message: fmt.Sprintf("the connection to the terminal was lost and the server asks to come back in %s, after the %s allowed for reconnecting", e.RetryAfter, s.o.Reconnect), Err: err}
			}
			if !reconnecting && e.RetryAfter > firstMaxWait {
				// Nobody has a session to get back yet: like the sandbox
				// client, a server that wants more than the cap is not
				// waited for (a CI job would sit there for minutes).
				return nil, Result{}, &Error{Code: CodeUnavailable, Message: fmt.Sprintf("the server asks to come back in %s, more than the %s nimbus waits for a terminal to become available", e.RetryAfter, firstMaxWait), Err: err}
			}
			wait = min(e.RetryAfter, retryAfterLimit)
		}
		delay = min(delay*3/2, 10*s.o.RetryDelay)
		if res, err, ended := s.sleepIdle(ctx, wait); ended {
			return nil, res, err
		}
	}
}

// dialIdle dials path while servicing the input.
func (s *session) dialIdle(ctx context.Context, path string) (*websocket.Conn, string, Result, error, bool) {
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	var ws *websocket.Conn
	var tok string
	var err error
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("dialing panicked: %v", r)
			}
		}()
		ws, tok, err = s.d.dial(dctx, path)
	}()
	res, ierr, ended := s.idle(ctx, done)
	if ended {
		cancel()
		<-done
		if ws != nil {
			_ = ws.CloseNow()
		}
		return nil, "", res, ierr, true
	}
	return ws, tok, Result{}, err, false
}

// sleepIdle waits d while servicing the input.
func (s *session) sleepIdle(ctx context.Context, d time.Duration) (Result, error, bool) {
	done := make(chan struct{})
	t := time.AfterFunc(d, func() { close(done) })
	defer t.Stop()
	return s.idle(ctx, done)
}

// idle services the input while there is no connection, until done is
// closed. A terminal's keys are dropped, except the detach keys and
// Ctrl-C, which end the attachment (ended true); piped input waits.
func (s *session) idle(ctx context.Context, done <-chan struct{}) (Result, error, bool) {
	var in chan []byte
	var inErr chan error
	if s.o.Terminal && !s.inDone {
		in, inErr = s.in, s.inErr
	}
	for {
		select {
		case <-done:
			return Result{}, nil, false
		case <-ctx.Done():
			return Result{}, ctx.Err(), true
		case p := <-in:
			out, detached := s.det.feed(nil, p)
			if detached {
				return Result{Reason: Detached}, nil, true
			}
			if bytes.IndexByte(out, 0x03) >= 0 {
				return Result{}, &Error{Code: CodeInterrupted, Message: "interrupted while not connected"}, true
			}
			if len(out) == 0 {
				continue
			}
			if !s.connected && len(s.typeahead)+len(out) <= typeaheadLimit {
				// Keys typed while the first connection opens are sent
				// once it is open, as ssh does.
				s.typeahead = append(s.typeahead, out...)
				continue
			}
			if !s.dropped {
				s.dropped = true
				s.notify(Event{Kind: EventKeysDropped})
			}
		case err := <-inErr:
			s.inDone = true
			return s.terminalInputEnded(err), s.inputError(err), true
		}
	}
}

// terminalInputEnded is the end of a terminal's input: it went away,
// which detaches.
func (s *session) terminalInputEnded(err error) Result {
	if errors.Is(err, io.EOF) {
		return Result{Reason: Detached}
	}
	return Result{}
}

func (s *session) inputError(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return &Error{Code: CodeInput, Message: "reading the input failed", Err: err}
}

// message is one message read from a socket, or the error that ended it.
type message struct {
	data []byte
	err  error
}

// readConn reads ws, dialled with tok, into msgs until it fails.
func readConn(ctx context.Context, ws *websocket.Conn, tok string, msgs chan<- message) {
	defer func() {
		if r := recover(); r != nil {
			msgs <- message{err: fmt.Errorf("reading the socket panicked: %v", r)}
		}
	}()
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			err = readError(err, tok)
		}
		select {
		case msgs <- message{data: data, err: err}:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// readError is err, the failure of a socket's read, without tok: a
// server or a proxy may echo the token in the reason of its close, which
// the errors of the session (closed early, taken over, lost) and its
// Result quote.
func readError(err error, tok string) error {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		reason := sandboxclient.RedactToken(ce.Reason, tok)
		if reason == ce.Reason {
			return err
		}
		ce.Reason = reason
		return fmt.Errorf("received close frame: %w", ce)
	}
	if text := sandboxclient.RedactToken(err.Error(), tok); text != err.Error() {
		return errors.New(text)
	}
	return err
}

// serve relays one connection. again says the connection was lost and
// reconnecting may restore it (err says how it was lost).
func (s *session) serve(ctx context.Context, ws *websocket.Conn, reconnected bool) (res Result, err error, again bool) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer func() { _ = ws.CloseNow() }()
	if reconnected {
		s.notify(Event{Kind: EventReconnected})
	} else {
		s.notify(Event{Kind: EventConnected})
	}
	msgs := make(chan message, 16)
	go readConn(cctx, ws, s.tok, msgs)
	replay := reconnected
	// failed is the end of a write that failed: the server's close may be
	// why (see writeFailed).
	failed := func(err error) (Result, error, bool) { return s.writeFailed(ctx, ws, msgs, &replay, err) }

	if s.unsent != nil {
		if err := s.write(ctx, ws, s.unsent); err != nil {
			return failed(err)
		}
		s.unsent = nil
	}
	s.sent = [2]int{}
	if reconnected {
		if err := s.refollow(ctx); err != nil {
			return Result{}, err, false
		}
	}
	if err := s.sendSize(ctx, ws); err != nil {
		return failed(err)
	}
	s.connected = true
	if len(s.typeahead) > 0 {
		err := s.sendInput(ctx, ws, s.typeahead)
		s.typeahead = nil
		if err != nil {
			return failed(err)
		}
	}
	live := newLiveness()
	keep := time.NewTicker(s.o.Keepalive)
	defer keep.Stop()
	liveTick := time.NewTicker(max(10*time.Millisecond, min(s.o.ProbeAfter, s.o.DeadAfter)/5))
	defer liveTick.Stop()
	var resized <-chan struct{}
	if s.o.Terminal {
		resized = s.o.Resized
	}
	resize := time.NewTimer(time.Hour)
	resize.Stop()
	var quiet *time.Timer
	var quietC <-chan time.Time
	// quietOver says the output went quiet before the server confirmed
	// the input: the attachment ends when the confirmation comes.
	quietOver := false
	s.endProbe, s.endHeard = "", false
	startQuiet := func() error {
		quiet = time.NewTimer(s.o.QuietAfterEOF)
		quietC = quiet.C
		return s.sendEndProbe(ctx, ws)
	}
	// shownSince restarts the quiet period when output came since shown
	// (the session socket's or a followed process's): the quiet that ran
	// out before the confirmation is over then, and the confirmation must
	// not end the attachment while the output goes on.
	shownSince := func(shown int) {
		if quiet != nil && s.shown != shown {
			quiet.Reset(s.o.QuietAfterEOF)
			quietOver = false
		}
	}
	in, inErr := s.in, s.inErr
	if s.inDone {
		in, inErr = nil, nil
		if !s.o.Terminal {
			if err := startQuiet(); err != nil {
				return failed(err)
			}
		}
	}
	var procMsgs <-chan message
	if s.proc != nil {
		procMsgs = s.proc.msgs
	}
	var buf []byte
	for {
		select {
		case <-ctx.Done():
			s.closeAll(ws, websocket.StatusNormalClosure, "client interrupted")
			return Result{}, ctx.Err(), false
		case m := <-msgs:
			if m.err != nil {
				return s.ended(ctx, m.err)
			}
			live.heard()
			shown := s.shown
			if err := s.handle(ctx, ws, m.data, &replay); err != nil {
				return Result{}, err, false
			}
			// Only output breaks the quiet: informational frames (spawn,
			// exit, shell-integration…) keep coming while background
			// processes run.
			shownSince(shown)
			if quietOver && s.endHeard {
				s.closeAll(ws, websocket.StatusNormalClosure, "input ended")
				return Result{Reason: InputEnded}, nil, false
			}
			if s.proc != nil && procMsgs == nil {
				procMsgs = s.proc.msgs
			}
		case m := <-procMsgs:
			shown := s.shown
			if err := s.handleProc(ctx, ws, m); err != nil {
				return Result{}, err, false
			}
			shownSince(shown)
			if s.proc == nil {
				procMsgs = nil
			}
		case p := <-in:
			out, detached := s.det.feed(buf[:0], p)
			buf = out
			if len(out) > 0 {
				if err := s.sendInput(ctx, ws, out); err != nil {
					return failed(err)
				}
			}
			if detached {
				s.closeAll(ws, websocket.StatusNormalClosure, "detached")
				return Result{Reason: Detached}, nil, false
			}
		case err := <-inErr:
			s.inDone = true
			in, inErr = nil, nil
			if s.o.Terminal || !errors.Is(err, io.EOF) {
				s.closeAll(ws, websocket.StatusNormalClosure, "input ended")
				return s.terminalInputEnded(err), s.inputError(err), false
			}
			// Piped input ended: what it held back is sent, and output
			// is printed until it pauses.
			if rest := s.carry.Flush(nil); len(rest) > 0 {
				if err := s.send(ctx, ws, frame.Input(string(rest))); err != nil {
					return failed(err)
				}
			}
			if s.proc != nil {
				s.proc.endInput(ctx)
			}
			if err := startQuiet(); err != nil {
				return failed(err)
			}
		case <-resized:
			resize.Reset(resizeDebounce)
		case <-resize.C:
			if err := s.sendSize(ctx, ws); err != nil {
				return failed(err)
			}
		case <-keep.C:
			if err := s.write(ctx, ws, []byte(frame.Ping)); err != nil {
				return failed(err)
			}
		case <-liveTick.C:
			switch live.due(s.o.ProbeAfter, s.o.DeadAfter) {
			case probeSend:
				s.probes++
				if err := s.write(ctx, ws, frame.Probe(fmt.Sprintf("liveness-%d", s.probes))); err != nil {
					return failed(err)
				}
				live.probed()
			case probeDead:
				return Result{}, fmt.Errorf("the server did not answer for %s", live.silence().Round(time.Second)), true
			}
			if s.endProbe != "" && !s.endHeard && time.Since(s.endAt) >= s.o.DeadAfter {
				return Result{}, fmt.Errorf("the server did not confirm the end of the input within %s", s.o.DeadAfter), true
			}
			if err := s.checkProc(ctx); err != nil {
				return Result{}, err, false
			}
			// A process terminal opened again reads into a new channel;
			// one that could not be opened gave the keys back.
			procMsgs = nil
			if s.proc != nil {
				procMsgs = s.proc.msgs
			}
		case <-quietC:
			if !s.endHeard {
				// Quiet output proves nothing of a server that died
				// silently: the input may never have reached a shell.
				quietOver = true
				continue
			}
			s.closeAll(ws, websocket.StatusNormalClosure, "input ended")
			return Result{Reason: InputEnded}, nil, false
		}
	}
}

// writeFailed ends a connection whose write failed. A server that closed
// the socket normally fails the writes that follow, often before the
// reader has passed its close on: a shell that exits at the end of a
// piped script closes the terminal while the probe confirming the input's
// end goes out, and that write's failure was taken for a lost connection
// (a redial, then a new shell, or no confirmation for --reconnect). The
// messages read before the close are handled (the answer to a probe among
// them counts) and a close ends the attachment as one read first does;
// otherwise the connection was lost, as err says.
func (s *session) writeFailed(ctx context.Context, ws *websocket.Conn, msgs <-chan message, replay *bool, err error) (Result, error, bool) {
	t := time.NewTimer(closeTimeout)
	defer t.Stop()
	for {
		select {
		case m := <-msgs:
			if m.err != nil {
				var ce websocket.CloseError
				if errors.As(m.err, &ce) {
					return s.ended(ctx, m.err)
				}
				return Result{}, err, true
			}
			if herr := s.handle(ctx, ws, m.data, replay); herr != nil {
				return Result{}, herr, false
			}
		case <-t.C:
			return Result{}, err, true
		case <-ctx.Done():
			return Result{}, ctx.Err(), false
		}
	}
}

// sendEndProbe sends the liveness probe once piped input has ended and
// been sent. The server handles a socket's messages in order, so its
// answer says that the input before it arrived; until it comes, output
// that went quiet may be a connection that died silently (spec §5), and
// ending then would report as delivered input that was lost.
func (s *session) sendEndProbe(ctx context.Context, ws *websocket.Conn) error {
	s.probes++
	id := fmt.Sprintf("input-end-%d", s.probes)
	if err := s.write(ctx, ws, frame.Probe(id)); err != nil {
		return err
	}
	s.endProbe, s.endAt = id, time.Now()
	return nil
}

// ended interprets the end of the socket.
func (s *session) ended(ctx context.Context, err error) (Result, error, bool) {
	if ctx.Err() != nil {
		return Result{}, ctx.Err(), false
	}
	s.flushHeld()
	if errors.Is(err, websocket.ErrMessageTooBig) {
		// Not a lost connection: a reconnection would be sent the same
		// (the replay comes first), for the whole Reconnect window.
		s.closeProc()
		return Result{}, &Error{Code: CodeProtocol, Message: fmt.Sprintf("the server sent a message larger than %d MiB", ReadLimit>>20), Err: err}, false
	}
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		switch ce.Code {
		case websocket.StatusNormalClosure:
			s.takeInputEnd(ctx)
			if s.inDone && s.inputHeard && s.unsent == nil {
				// The end was learnt only now, but the server had
				// confirmed all the input before it: a shell that exits
				// at the end of the script closes before the end probe
				// can go out.
				s.delivered = true
			}
			cut := s.cutShort(ce.Reason)
			s.closeProc()
			if cut != "" {
				reason := ce.Reason
				if reason == "" {
					reason = "no reason given"
				}
				return Result{}, &Error{Code: CodeClosedEarly, Message: fmt.Sprintf("the server closed the terminal (%s) %s", reason, cut),
					CloseCode: int(ce.Code), CloseReason: ce.Reason}, false
			}
			return Result{Reason: Closed, CloseReason: ce.Reason}, nil, false
		case websocket.StatusGoingAway:
			s.closeProc()
			msg := "another client took this session's terminal over"
			if ce.Reason != "" {
				msg += " (server: " + ce.Reason + ")"
			}
			return Result{}, &Error{Code: CodeTakenOver, Message: msg, CloseCode: int(ce.Code), CloseReason: ce.Reason}, false
		}
	}
	return Result{}, err, true
}

// inputEndWait bounds how long a normal close of the terminal waits for
// the read of piped input in progress to say whether the input had ended.
const inputEndWait = time.Second

// takeInputEnd learns, when the server closed the terminal normally,
// whether piped input had ended. The input is read by a goroutine of its
// own: empty input (</dev/null) is at its end at once, but the read that
// says so may not have run yet, or its end may wait in inErr while serve
// took the close first; either way `session attach` reported input cut
// short (exit 69) now and then on a loaded machine, against a server
// that closed at once. So the read in progress is waited for, up to
// inputEndWait: its end (all of the input came before it, in being
// unbuffered) means the input had ended; more input, a partial character
// held back, a failed read or no answer in time mean it had not, and the
// rest was not delivered.
func (s *session) takeInputEnd(ctx context.Context) {
	if s.o.Terminal || s.inDone {
		return
	}
	t := time.NewTimer(inputEndWait)
	defer t.Stop()
	select {
	case err := <-s.inErr:
		s.inDone = errors.Is(err, io.EOF) && s.carry.Pending() == 0
	case <-s.in:
	case <-t.C:
	case <-ctx.Done():
	}
}

// sessionDestroyed is the close reason of a destroyed session (spec §4.3).
const sessionDestroyed = "session destroyed"

// cutShort says, for piped input, why a normal close (1000) with reason
// ends the attachment before the work the input asked for was seen
// through, "" when it does not. A terminal's user sees the session end
// and is told how; a script is told only by the exit status, which must
// not report as done commands that never ran or were killed. The shell
// exiting once its input was all delivered ("terminal closed" on nimbus
// dev, after an exit) is a normal end.
func (s *session) cutShort(reason string) string {
	switch {
	case s.o.Terminal:
		return ""
	case !s.inDone:
		return "before the input ended: the rest of it was not delivered"
	case !s.delivered && s.sentInput:
		return "before it confirmed receiving the input: the commands may not have run"
	case s.proc != nil:
		return fmt.Sprintf("while the process terminal of %q (pid %d) was followed, before its exit arrived", s.proc.command, s.proc.pid)
	case reason == sessionDestroyed:
		return "while the output of the input went on: its commands were stopped"
	}
	return ""
}

// handle acts on one message of the session socket.
func (s *session) handle(ctx context.Context, ws *websocket.Conn, msg []byte, replay *bool) error {
	f, err := frame.Decode(msg)
	if err != nil {
		return nil // "pong", or anything else that is not a frame
	}
	switch f.Type {
	case frame.TypeFSWatchUnsubscribeResult:
		var id string
		if json.Unmarshal(f.ReqID, &id) != nil {
			return nil
		}
		if s.endProbe != "" && id == s.endProbe {
			s.endHeard, s.delivered = true, true
		}
		if s.inputProbe != "" && id == s.inputProbe {
			s.inputHeard = true
		}
	case frame.TypeOutput:
		data := []byte(f.Data)
		if *replay && len(data) > 0 {
			data = s.hist.fresh(data)
			*replay = false
		}
		if s.proc != nil {
			s.hold(data)
			return nil
		}
		return s.output(data)
	case frame.TypeSpawn:
		if f.AttachedTTY && f.PID > 0 {
			if !s.o.FollowProcesses {
				s.notify(Event{Kind: EventProcessTerminal, PID: f.PID, Command: f.Command})
				return nil
			}
			s.follow(ctx, f.PID, f.Command)
		}
	}
	return nil
}

// output writes terminal bytes and remembers them for the replay of a
// reconnection.
func (s *session) output(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	s.shown++
	s.hist.add(data)
	if _, err := s.o.Out.Write(data); err != nil {
		return &Error{Code: CodeInput, Message: "writing the output failed", Err: err}
	}
	return nil
}

// sendInput sends keystrokes, whole characters only.
func (s *session) sendInput(ctx context.Context, ws *websocket.Conn, p []byte) error {
	b := s.carry.Append(nil, p)
	if len(b) == 0 {
		return nil
	}
	s.sentInput = true
	if s.proc != nil {
		s.inputProbe, s.inputHeard = "", false
		return s.proc.input(ctx, b)
	}
	return s.send(ctx, ws, frame.Input(string(b)))
}

// send writes an input frame, keeping it for the next connection when the
// write fails, so that piped input is not lost. Piped input is followed by
// a probe at once: the shell may read it, exit and have the server close
// the terminal before this session has read the input's end, and then
// only the answer to that probe says that the server had all of it.
func (s *session) send(ctx context.Context, ws *websocket.Conn, msg []byte) error {
	s.sentInput = true
	s.inputProbe, s.inputHeard = "", false
	if err := s.write(ctx, ws, msg); err != nil {
		s.unsent = msg
		return err
	}
	if s.o.Terminal {
		return nil
	}
	s.probes++
	id := fmt.Sprintf("input-%d", s.probes)
	if err := s.write(ctx, ws, frame.Probe(id)); err != nil {
		return err
	}
	s.inputProbe = id
	return nil
}

// sendSize sends the window size when it changed.
func (s *session) sendSize(ctx context.Context, ws *websocket.Conn) error {
	if !s.o.Terminal || s.o.Size == nil {
		return nil
	}
	cols, rows, ok := s.o.Size()
	if !ok || cols <= 0 || rows <= 0 || cols > frame.MaxDimension || rows > frame.MaxDimension {
		return nil
	}
	if s.proc != nil {
		s.proc.resize(ctx, cols, rows)
	}
	if s.sent == [2]int{cols, rows} {
		return nil
	}
	if err := s.write(ctx, ws, frame.Resize(cols, rows)); err != nil {
		return err
	}
	s.sent = [2]int{cols, rows}
	return nil
}

func (s *session) write(ctx context.Context, ws *websocket.Conn, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return ws.Write(ctx, websocket.MessageText, msg)
}

// closeAll closes the process terminal and the session socket cleanly, so
// that the server frees the terminal at once, within closeTimeout.
func (s *session) closeAll(ws *websocket.Conn, code websocket.StatusCode, reason string) {
	s.closeProc()
	closeSocket(ws, code, reason)
}

func closeSocket(ws *websocket.Conn, code websocket.StatusCode, reason string) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ws.Close(code, reason)
	}()
	select {
	case <-done:
	case <-time.After(closeTimeout):
		_ = ws.CloseNow()
	}
}
