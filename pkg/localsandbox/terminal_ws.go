package localsandbox

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
	"github.com/nimbus-sh/nimbus/pkg/terminal/frame"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// serveTerminal answers GET /s/<id>/ws, checking as a Worker does: the id
// (400), the credentials with session:attach and the sid pin (401/403,
// and a cookie only from the same origin), the upgrade (426), then the
// ownership (409).
func (s *Server) serveTerminal(w http.ResponseWriter, r *http.Request, id string) {
	if !ValidID(id) {
		plain(w, http.StatusBadRequest, "Invalid session")
		return
	}
	p, aerr := sandboxserver.AuthenticateRequest(s.auth, r, id, []string{token.ScopeSessionAttach})
	if aerr != nil {
		writePlainFail(w, aerr)
		return
	}
	if r.Header.Get("Upgrade") != "websocket" {
		plain(w, http.StatusUpgradeRequired, "Expected WebSocket")
		return
	}
	h, aerr := s.enter(r.Context(), p.DOPrefix()+":"+id, id)
	if aerr != nil {
		writePlainFail(w, aerr)
		return
	}
	// The terminal is not an operation a destroy waits for: the destroy
	// closes it.
	t, err := h.sb.attachTerminal()
	h.leave()
	if err != nil {
		if e := startOverloaded(err); e != nil {
			// As a command's start: the host is short of processes or
			// descriptors for now, which a client should retry, not
			// report as the terminal's failure.
			writePlainFail(w, e)
			return
		}
		plain(w, http.StatusInternalServerError, "Init failed: "+h.sb.startErrText("terminal", err))
		return
	}
	c, replay, err := t.claim(s.opts.TerminalOwnerTimeout)
	if errors.Is(err, errTerminalBusy) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusConflict)
		_, _ = io.WriteString(w, `{"error":"session already has active terminal","hint":"open a new /new session"}`)
		return
	}
	if err != nil {
		plain(w, http.StatusInternalServerError, "Rejoin failed: "+err.Error())
		return
	}
	// Origins are not compared (a browser on another origin needs a token
	// of its own: the cookie rule above applies); no subprotocol, no
	// compression, as upstream. A ping or pong from the peer proves it
	// alive (see checkIdle).
	ws, err := websocket.Accept(hijackNoDeadline{ResponseWriter: w}, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true, CompressionMode: websocket.CompressionDisabled,
		OnPingReceived: func(context.Context, []byte) bool { c.alive.Store(time.Now().UnixNano()); return true },
		OnPongReceived: func(context.Context, []byte) { c.alive.Store(time.Now().UnixNano()) },
	})
	if err != nil {
		c.drop()
		return
	}
	ws.SetReadLimit(terminalReadLimit)
	t.mu.Lock()
	c.ws = ws
	gone := c.gone
	t.mu.Unlock()
	if gone {
		_ = ws.CloseNow()
		return
	}
	go c.writeLoop(replay, s.opts.TerminalIdleTimeout)
	c.readLoop()
}

func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
}

// hijackNoDeadline clears the deadlines the HTTP server left on a
// connection it hands over: they bound a request, and a terminal socket
// lives for hours. With idle set, the connection is a preview's that
// switched protocols (to WebSocket when ws), watched for a vanished peer
// (see previewConn). Everything else (a preview's flushes) reaches the
// server's writer through Unwrap.
type hijackNoDeadline struct {
	http.ResponseWriter
	idle time.Duration
	ws   bool
}

func (h hijackNoDeadline) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err == nil {
		_ = conn.SetDeadline(time.Time{})
		if h.idle > 0 {
			now := unixNano()
			c := &previewConn{conn: conn, idle: int64(h.idle), grace: int64(max(h.idle/8, time.Second)), ws: h.ws, done: make(chan struct{})}
			c.heard.Store(now)
			c.moved.Store(now)
			go c.watch()
			conn = c
		}
	}
	return conn, brw, err
}

func (h hijackNoDeadline) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// readLoop handles the client's frames until the socket ends. Every
// message, JSON or not, counts as hearing from the peer.
func (c *termConn) readLoop() {
	defer c.drop()
	ctx := context.Background()
	// lost says input was dropped: the terminal ended (or c stopped
	// owning it) while its close frame was still on its way. A probe
	// after it is not answered, so that it does not confirm input that
	// never reached a shell.
	lost := false
	for {
		_, msg, err := c.ws.Read(ctx)
		if err != nil {
			return
		}
		c.heard.Store(time.Now().UnixNano())
		if frame.IsPing(msg) {
			if c.write(ctx, []byte(frame.Pong)) != nil {
				return
			}
			continue
		}
		if !utf8.Valid(msg) {
			// Binary frames are text for this protocol; JSON decoding
			// would reject invalid UTF-8 anyway.
			continue
		}
		f, err := frame.Decode(msg)
		if err != nil {
			continue
		}
		switch f.Type {
		case frame.TypeInput:
			c.blocked.Store(true)
			ok := c.t.input(c, f.Data)
			c.blocked.Store(false)
			if !ok {
				if c.closingNow() {
					// The close frame is coming (the writer may be
					// settling, see settle): the socket is read on, so
					// that the peer's pong and close are.
					lost = true
					continue
				}
				return
			}
		case frame.TypeResize:
			c.t.resize(f.Cols, f.Rows)
		case frame.TypeFSWatchUnsubscribe:
			// The upstream page's liveness probe: no watch exists here.
			if lost {
				continue
			}
			if beforeProbeReply != nil {
				beforeProbeReply(c)
			}
			if c.write(ctx, frame.ProbeResult(f.ReqID)) != nil {
				return
			}
		}
	}
}

// beforeProbeReply, when set (by tests), runs before a probe is
// answered: a reader that is slow to get to the probe.
var beforeProbeReply func(c *termConn)

// settle returns once the peer answered a WebSocket ping, at most
// terminalSettle later. The peer answers it after every frame it sent
// before it read the ping, and the reader handles frames in order: all
// of them were handled then, the probes answered. A client whose piped
// script ends with exit confirms its input with a probe sent after it;
// the shell's exit is quick, and without this the terminal's close went
// out before a reader that had not been scheduled yet read the probe
// that had arrived (the client exited 69, E_TERMINAL_CLOSED_EARLY, now
// and then on a loaded machine).
func (c *termConn) settle() {
	ctx, cancel := context.WithTimeout(context.Background(), terminalSettle)
	defer cancel()
	_ = c.ws.Ping(ctx)
}

func (c *termConn) write(ctx context.Context, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, terminalWriteTimeout)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, msg)
}

// silence is how long ago the peer last sent anything: a message, a
// WebSocket ping or pong.
func (c *termConn) silence(now time.Time) time.Duration {
	return now.Sub(time.Unix(0, max(c.heard.Load(), c.alive.Load())))
}

// pingWait is how long a peer silent for the idle timeout has to answer
// a WebSocket ping: an eighth of the timeout (15 s of the default 120 s),
// at least a second.
func pingWait(idle time.Duration) time.Duration { return max(idle/8, time.Second) }

// checkIdle runs when the idle timer fires: it returns when to check
// again, or 0 when the peer is silent and did not answer a ping, and the
// socket is to be closed. A peer silent for idle (no message, no ping or
// pong) is pinged; every live client's WebSocket stack answers (the
// browser's, Node's ws, this project's), also one that sends nothing
// while it shows output (the upstream page probes only when output
// stops) or a tab whose timers the browser throttles. One that does not
// answer within pingWait is gone (asleep, cut off without a FIN, hung):
// its socket, goroutines and descriptor (and its slot of the server's
// connection limit) are released. While the reader waits for room in the
// input, the socket is not read and no pong could arrive: the check waits.
func (c *termConn) checkIdle(idle time.Duration) time.Duration {
	if d := c.silence(time.Now()); d < idle {
		return idle - d
	}
	if c.blocked.Load() {
		return idle
	}
	ctx, cancel := context.WithTimeout(context.Background(), pingWait(idle))
	err := c.ws.Ping(ctx)
	cancel()
	if err == nil || c.silence(time.Now()) < idle {
		return idle
	}
	return 0
}

// writeLoop sends the replay and ready, then the output as it comes:
// whatever accumulated while the previous frame was being sent goes in
// the next one, so output is coalesced under load without a fixed delay
// that a keystroke's echo would wait for. It also closes the socket of a
// peer that went silent for idle (see checkIdle).
func (c *termConn) writeLoop(replay []byte, idle time.Duration) {
	defer close(c.done)
	check := time.NewTimer(idle)
	defer check.Stop()
	ctx := context.Background()
	var msg []byte
	send := func(data []byte) bool {
		for len(data) > 0 {
			n := cutAtRune(data, terminalFrameData)
			msg = frame.AppendOutput(msg[:0], data[:n])
			data = data[n:]
			if c.write(ctx, msg) != nil {
				return false
			}
		}
		return true
	}
	if !send(replay) || c.write(ctx, frame.Ready()) != nil {
		c.drop()
		return
	}
	c.signal() // output that arrived since the claim
	for {
		select {
		case <-c.wake:
		case <-check.C:
			if next := c.checkIdle(idle); next > 0 {
				check.Reset(next)
				continue
			}
			// Output is not sent to a peer that is gone: the close
			// frame goes first (the terminal's scrollback keeps it).
			c.t.mu.Lock()
			if !c.closing && !c.gone {
				c.closeLocked(websocket.StatusPolicyViolation, clientSilent)
				c.pending = nil
			}
			c.t.mu.Unlock()
		}
		t := c.t
		t.mu.Lock()
		data := c.pending
		c.pending = nil
		closing, gone, code, reason, settle := c.closing, c.gone, c.code, c.reason, c.settleFirst
		t.cond.Broadcast()
		t.mu.Unlock()
		if gone {
			return
		}
		if !send(data) {
			c.drop()
			return
		}
		if closing {
			if settle {
				c.settle()
			}
			_ = c.ws.Close(code, reason)
			c.drop()
			return
		}
	}
}

// cutAtRune returns where to cut p to at most max bytes without splitting
// a character.
func cutAtRune(p []byte, max int) int {
	if len(p) <= max {
		return len(p)
	}
	n := max
	for n > max-utf8.UTFMax && n > 0 && !utf8.RuneStart(p[n]) {
		n--
	}
	return n
}
