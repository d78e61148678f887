package localsandbox

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultPreviewIdleTimeout is how long the client of a preview's
// WebSocket may send nothing before the server pings it (see
// Options.PreviewIdleTimeout): the terminal's bound.
const DefaultPreviewIdleTimeout = DefaultTerminalIdleTimeout

// previewConn is the client's side of a preview whose protocol was
// switched, which the proxy copies to and from the app until one side
// ends. A peer that vanished without a FIN (a laptop asleep, a network
// dropped, a tunnel whose far end is gone) used to hold it, the proxy's
// goroutines, the app's connection and a slot of nimbus dev's connection
// limit for as long as the app stayed quiet.
//
// For a WebSocket, once the client has sent nothing for idle the server
// sends it a ping frame of its own at the next boundary between two of
// the app's frames: inside the write that carries that boundary when
// the app is streaming, at once when it is quiet between two frames (the
// stream from the app is followed frame by frame for that, never
// changed). An app that never pauses between frames (each of its writes
// ending inside the next one) is pinged as one that does. Every
// WebSocket stack answers with a pong, which goes on to the app as any
// client frame does (an unsolicited pong is allowed and ignored, RFC 6455
// §5.5.3). A client that sends nothing within the grace (an eighth of
// idle, at least 1 s, as for terminal sockets) after it is gone: the
// connection is closed, and with it the app's. While no boundary comes
// (the app's stream stopped inside a frame, or one frame is still going
// by) the client counts as gone once no byte has moved to it for the
// grace. Other protocols, which the server cannot probe, are closed when
// no byte has moved either way for idle and the grace. A live client is
// never closed for the app's silence.
type previewConn struct {
	conn        net.Conn
	idle, grace int64 // nanoseconds
	ws          bool
	done        chan struct{}
	closed      atomic.Bool

	heard    atomic.Int64 // when a byte last came from the client (UnixNano)
	moved    atomic.Int64 // when a write to the client last completed
	pingSent atomic.Int64 // when the last ping went out
	pingDue  atomic.Bool  // the next boundary between frames carries a ping

	wmu sync.Mutex // serialises writes: the proxy's and the ping
	// The app's frames written so far (under wmu): header bytes seen of
	// the current one (without a masking key), its length and payload
	// bytes to come; closing says its close frame went by (nothing may
	// follow it).
	hdr     [10]byte
	hn, hl  int
	left    uint64
	closing bool
}

func (c *previewConn) Read(p []byte) (int, error) {
	n, err := c.conn.Read(p)
	if n > 0 {
		c.heard.Store(unixNano())
	}
	return n, err
}

// Write follows the app's frames through p (reading only their headers)
// on their way to the client, and puts a ping that is due at the first
// boundary between two of them.
func (c *previewConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	done := 0 // bytes of p written
	for i := 0; c.ws; {
		if c.hn == 0 && c.left == 0 && !c.closing && c.pingDue.Load() {
			n, err := c.write(p[done:i])
			if done += n; err != nil {
				return done, err
			}
			if err := c.ping(); err != nil {
				return done, err
			}
		}
		if i == len(p) {
			break
		}
		if c.left > 0 {
			n := min(uint64(len(p)-i), c.left)
			c.left -= n
			i += int(n)
			continue
		}
		c.hdr[c.hn] = p[i]
		c.hn++
		i++
		if c.hn == 2 {
			c.hl = 2 // and the extended length's bytes
			switch c.hdr[1] & 0x7f {
			case 126:
				c.hl = 4
			case 127:
				c.hl = 10
			}
		}
		if c.hn < 2 || c.hn < c.hl {
			continue
		}
		c.left = uint64(c.hdr[1] & 0x7f)
		if c.hn > 2 {
			c.left = 0
			for _, b := range c.hdr[2:c.hn] {
				c.left = c.left<<8 | uint64(b)
			}
		}
		// A masking key (never sent to a client) counts as payload.
		c.left += uint64(c.hdr[1] >> 7 * 4)
		c.closing = c.closing || c.hdr[0]&0x0f == 0x8
		c.hn = 0
	}
	n, err := c.write(p[done:])
	return done + n, err
}

// write sends p to the client (under wmu).
func (c *previewConn) write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := c.conn.Write(p)
	if n > 0 {
		c.moved.Store(unixNano())
	}
	return n, err
}

// ping sends the client a ping frame (under wmu, between two of the
// app's frames); a client that does not take it within the grace is
// gone.
func (c *previewConn) ping() error {
	c.pingDue.Store(false)
	c.pingSent.Store(unixNano())
	_ = c.conn.SetWriteDeadline(time.Now().Add(time.Duration(c.grace)))
	_, err := c.conn.Write([]byte{0x89, 0})
	_ = c.conn.SetWriteDeadline(time.Time{})
	return err
}

func (c *previewConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		close(c.done)
	}
	return c.conn.Close()
}

func (c *previewConn) LocalAddr() net.Addr                { return c.conn.LocalAddr() }
func (c *previewConn) RemoteAddr() net.Addr               { return c.conn.RemoteAddr() }
func (c *previewConn) SetDeadline(t time.Time) error      { return c.conn.SetDeadline(t) }
func (c *previewConn) SetReadDeadline(t time.Time) error  { return c.conn.SetReadDeadline(t) }
func (c *previewConn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

// watch closes the connection once its peer is gone (see previewConn).
func (c *previewConn) watch() {
	t := time.NewTimer(time.Duration(c.idle))
	defer t.Stop()
	var probing, check int64 // when the probe began, when bytes last counted
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		now := unixNano()
		last := c.heard.Load()
		if !c.ws {
			last = max(last, c.moved.Load())
		}
		wait := c.grace / 4
		switch sent := c.pingSent.Load(); {
		case probing == 0 || last > probing:
			probing = 0
			if wait = last + c.idle - now; wait <= 0 {
				probing, check, wait = now, now, c.grace/4
				c.pingDue.Store(c.ws)
			}
		case sent >= probing:
			if wait = sent + c.grace - now; wait <= 0 {
				_ = c.Close()
				return
			}
		case now-check >= c.grace:
			if c.moved.Load() <= check {
				_ = c.Close()
				return
			}
			check = now
		}
		if probing == 0 {
			c.pingDue.Store(false)
		}
		// A ping that is due goes with the app's next write that has a
		// boundary between two frames in it, or now if no write is under
		// way and the app's stream is between two frames.
		if c.pingDue.Load() && c.wmu.TryLock() {
			if c.pingDue.Load() && c.hn == 0 && c.left == 0 && !c.closing {
				if c.ping() != nil {
					_ = c.Close()
				}
				wait = c.grace
			}
			c.wmu.Unlock()
		}
		t.Reset(time.Duration(max(wait, 1)))
	}
}

// unixNano is the time now; one call, where time.Now inlined at every
// use would cost the binary more.
//
//go:noinline
func unixNano() int64 { return time.Now().UnixNano() }
