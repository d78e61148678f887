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
	// compression, as upstream.
	ws, err := websocket.Accept(hijackNoDeadline{w}, r, &websocket.AcceptOptions{InsecureSkipVerify: true, CompressionMode: websocket.CompressionDisabled})
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
	go c.writeLoop(replay)
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
// lives for hours.
type hijackNoDeadline struct{ http.ResponseWriter }

func (h hijackNoDeadline) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err == nil {
		_ = conn.SetDeadline(time.Time{})
	}
	return conn, brw, err
}

// readLoop handles the client's frames until the socket ends. Every
// message, JSON or not, counts as hearing from the peer.
func (c *termConn) readLoop() {
	defer c.drop()
	ctx := context.Background()
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
			if !c.t.input(c, f.Data) {
				return
			}
		case frame.TypeResize:
			c.t.resize(f.Cols, f.Rows)
		case frame.TypeFSWatchUnsubscribe:
			// The upstream page's liveness probe: no watch exists here.
			if c.write(ctx, frame.ProbeResult(f.ReqID)) != nil {
				return
			}
		}
	}
}

func (c *termConn) write(ctx context.Context, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, terminalWriteTimeout)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, msg)
}

// writeLoop sends the replay and ready, then the output as it comes:
// whatever accumulated while the previous frame was being sent goes in
// the next one, so output is coalesced under load without a fixed delay
// that a keystroke's echo would wait for.
func (c *termConn) writeLoop(replay []byte) {
	defer close(c.done)
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
	for range c.wake {
		t := c.t
		t.mu.Lock()
		data := c.pending
		c.pending = nil
		closing, gone, code, reason := c.closing, c.gone, c.code, c.reason
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
