package localdev

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults of ServeOptions. A request head must arrive within
// HeaderTimeout (a client sending it a byte at a time is cut off then),
// a request body within BodyTimeout, and an answer must make progress:
// a single write that the client does not accept within WriteTimeout ends
// the connection. Idle keep-alive connections are closed after
// IdleTimeout (longer than the Go client's own 90 s, so that the server
// is not the side that races a reused connection). MaxConns bounds open
// connections, so no pile of slow or idle clients exhausts file
// descriptors: a client arriving when all are taken waits for one to
// close, and the oldest connection with no request in progress (idle
// between requests, or opened with nothing sent yet) is closed to make
// room, so idle connections cannot lock other clients out. None of these
// limits the length of a response: an exec stream may stay silent for
// hours, bounded only by TCP keepalive noticing a dead peer.
const (
	DefaultHeaderTimeout = 5 * time.Second
	DefaultBodyTimeout   = 60 * time.Second
	DefaultWriteTimeout  = 5 * time.Minute
	DefaultIdleTimeout   = 120 * time.Second
	DefaultMaxConns      = 256
)

// ServeOptions bound what a client of `nimbus dev` can hold; zero values
// take the defaults.
type ServeOptions struct {
	HeaderTimeout time.Duration
	BodyTimeout   time.Duration
	WriteTimeout  time.Duration
	IdleTimeout   time.Duration
	MaxConns      int
	// Logf reports trouble the server deals with itself (running out of
	// file descriptors), at most once a minute per kind; nil discards it.
	Logf func(format string, args ...any)
}

func (o ServeOptions) withDefaults() ServeOptions {
	if o.HeaderTimeout <= 0 {
		o.HeaderTimeout = DefaultHeaderTimeout
	}
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = DefaultBodyTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	return o
}

// Serve serves h on ln with the default bounds; see ServeOptions.Serve.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	return ServeOptions{}.Serve(ctx, ln, h)
}

// Serve serves h on ln until ctx is cancelled, then shuts down: open
// requests get a few seconds, then the backend's processes are killed by
// the caller's Close.
func (o ServeOptions) Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	o = o.withDefaults()
	srv := &http.Server{
		Handler:           bounded(h, o),
		ReadHeaderTimeout: o.HeaderTimeout,
		IdleTimeout:       o.IdleTimeout,
		// The platform's header limit.
		MaxHeaderBytes: 128 << 10,
	}
	ll := newLimitListener(ln, o.MaxConns, o.Logf)
	srv.ConnState = ll.track
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ll) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	return nil
}

// bounded applies the body and write deadlines. The read deadline covers
// the request body only and is lifted when the body ends, because the
// server keeps reading the connection afterwards to notice a client that
// goes away, and a deadline there would cancel long answers (an exec
// stream, a preview's event stream). The write deadline is renewed before
// every write, so it bounds a stalled client, not a long answer.
func bounded(h http.Handler, o ServeOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		dw := &deadlineWriter{ResponseWriter: w, rc: rc, d: o.WriteTimeout}
		if r.Body != nil && r.Body != http.NoBody {
			_ = rc.SetReadDeadline(time.Now().Add(o.BodyTimeout))
			dw.readDeadline.Store(true)
			r.Body = &liftAtEOF{ReadCloser: r.Body, lift: func() { _ = dw.SetReadDeadline(time.Time{}) }}
		}
		h.ServeHTTP(dw, r)
	})
}

// liftAtEOF calls lift once the body has been read to its end.
type liftAtEOF struct {
	io.ReadCloser
	lift func()
	once sync.Once
}

func (b *liftAtEOF) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.once.Do(b.lift)
	}
	return n, err
}

// deadlineWriter renews the connection's write deadline before each write.
// Each deadline change is a timer change in the runtime: it skips the ones
// that change nothing (lifting a read deadline already lifted, as the API
// handler does once it has the body; renewing a write deadline renewed
// less than a 16th of it ago, as for the header and the body of one small
// answer), so the bound on a stalled client stays between 15/16 of
// WriteTimeout and all of it.
type deadlineWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration

	// readDeadline is whether a read deadline is set (atomic: a proxy's
	// transport reads the body, and lifts, in a goroutine of its own).
	readDeadline atomic.Bool
	renewed      time.Time // when the write deadline was last renewed
}

func (w *deadlineWriter) renew() {
	now := time.Now()
	if !w.renewed.IsZero() && now.Sub(w.renewed) < w.d/16 {
		return
	}
	w.renewed = now
	_ = w.rc.SetWriteDeadline(now.Add(w.d))
}

// SetReadDeadline is found by http.ResponseController before the
// server's writer (Unwrap): lifting twice is done once.
func (w *deadlineWriter) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		if !w.readDeadline.CompareAndSwap(true, false) {
			return nil
		}
	} else {
		w.readDeadline.Store(true)
	}
	return w.rc.SetReadDeadline(t)
}

// SetWriteDeadline keeps renew's record true when a handler sets its own
// write deadline.
func (w *deadlineWriter) SetWriteDeadline(t time.Time) error {
	w.renewed = time.Time{}
	return w.rc.SetWriteDeadline(t)
}

func (w *deadlineWriter) WriteHeader(code int) {
	w.renew()
	w.ResponseWriter.WriteHeader(code)
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	w.renew()
	return w.ResponseWriter.Write(p)
}

// Flush and FlushError keep streaming (exec frames, proxied events) live.
func (w *deadlineWriter) Flush() { _ = w.FlushError() }

func (w *deadlineWriter) FlushError() error {
	w.renew()
	return w.rc.Flush()
}

// Unwrap gives http.ResponseController (deadlines, hijacking for proxied
// WebSockets) the server's writer.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// limitListener accepts at most cap(slots) connections at a time; a slot
// is freed when its connection is closed. When the process runs out of
// file descriptors, it answers waiting clients 503 with Retry-After (see
// shed) instead of failing every accept in a loop.
type limitListener struct {
	net.Listener
	slots chan struct{}
	done  chan struct{}
	once  sync.Once
	logf  func(format string, args ...any)

	// reserve is a descriptor held back for shed (guarded by mu: Close
	// releases it); lastLog is when running out was last reported.
	mu      sync.Mutex
	reserve *os.File
	lastLog time.Time
	backoff time.Duration

	// quiet holds the connections with no request in progress and since
	// when (guarded by qmu); quietWake says one became quiet.
	qmu       sync.Mutex
	quiet     map[net.Conn]time.Time
	quietWake chan struct{}
}

func newLimitListener(ln net.Listener, maxConns int, logf func(string, ...any)) *limitListener {
	l := &limitListener{Listener: ln, slots: make(chan struct{}, maxConns), done: make(chan struct{}), logf: logf, quietWake: make(chan struct{}, 1)}
	l.reserve, _ = os.Open(os.DevNull)
	return l
}

// Accept accepts the next client, then waits for a slot for it. While
// it waits, the oldest quiet connection (see track) is closed: an idle
// keep-alive connection may be closed by a server at any time (clients
// retry on a fresh one), and a connection that has sent nothing has no
// request to lose. Connections with a request in progress are never
// closed for room. One client at a time waits, so descriptors stay
// bounded by MaxConns+1.
func (l *limitListener) Accept() (net.Conn, error) {
	var c net.Conn
	for c == nil {
		var err error
		c, err = l.Listener.Accept()
		if err != nil && outOfFiles(err) {
			c, err = l.shed(err)
		}
		if err != nil {
			return nil, err
		}
	}
	for {
		select {
		case l.slots <- struct{}{}:
			return &slotConn{Conn: c, free: func() { <-l.slots }}, nil
		case <-l.done:
			_ = c.Close()
			return nil, net.ErrClosed
		default:
		}
		l.evictQuiet()
		select {
		case l.slots <- struct{}{}:
			return &slotConn{Conn: c, free: func() { <-l.slots }}, nil
		case <-l.done:
			_ = c.Close()
			return nil, net.ErrClosed
		case <-l.quietWake: // a connection became quiet: close it for room
		}
	}
}

// track follows the server's connection states: a connection is quiet
// when it is new (nothing read yet) or idle between requests.
func (l *limitListener) track(c net.Conn, s http.ConnState) {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	switch s {
	case http.StateNew, http.StateIdle:
		if l.quiet == nil {
			l.quiet = map[net.Conn]time.Time{}
		}
		l.quiet[c] = time.Now()
		select {
		case l.quietWake <- struct{}{}:
		default:
		}
	default:
		delete(l.quiet, c)
	}
}

// evictQuiet closes the connection that has been quiet the longest.
func (l *limitListener) evictQuiet() {
	l.qmu.Lock()
	var oldest net.Conn
	var since time.Time
	for c, t := range l.quiet {
		if oldest == nil || t.Before(since) {
			oldest, since = c, t
		}
	}
	delete(l.quiet, oldest)
	l.qmu.Unlock()
	if oldest != nil {
		_ = oldest.Close()
	}
}

// overloadBody is the answer to a client that cannot be served for want
// of file descriptors: the platform's overload answer.
const overloadBody = `{"ok":false,"error":"nimbus dev is out of file descriptors: too many connections or commands at once; retry shortly","code":"E_NIMBUS_DO_OVERLOADED"}`

// shed runs when accepting failed for want of descriptors. It frees the
// descriptor held in reserve and accepts the next client with it: if
// descriptors were freed meanwhile (the reserve can be taken again), the
// client is served; otherwise it is answered 503 with Retry-After and
// closed. Without a reserve, it pauses (up to a second, growing) so that
// the accept loop does not spin. It returns a client to serve, nothing
// (accept again), or an error once the listener is closed.
func (l *limitListener) shed(cause error) (net.Conn, error) {
	if l.logf != nil && time.Since(l.lastLog) > time.Minute {
		l.lastLog = time.Now()
		l.logf("out of file descriptors (%v): answering new clients 503 until some are freed", cause)
	}
	l.mu.Lock()
	r := l.reserve
	l.reserve = nil
	l.mu.Unlock()
	if r != nil {
		_ = r.Close()
		c, err := l.Listener.Accept()
		if err == nil {
			if l.takeReserve() {
				l.backoff = 0
				return c, nil
			}
			refuse(c)
			if l.takeReserve() {
				return nil, nil
			}
		} else if errors.Is(err, net.ErrClosed) {
			return nil, err
		} else {
			l.takeReserve()
		}
	}
	l.backoff = min(max(2*l.backoff, 5*time.Millisecond), time.Second)
	t := time.NewTimer(l.backoff)
	defer t.Stop()
	select {
	case <-t.C:
		return nil, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// takeReserve opens the reserve descriptor; false when there is none to
// be had.
func (l *limitListener) takeReserve() bool {
	f, err := os.Open(os.DevNull)
	if err != nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.done:
		_ = f.Close()
	default:
		if l.reserve != nil {
			_ = l.reserve.Close()
		}
		l.reserve = f
	}
	return true
}

// refuse answers c 503 and closes it, reading what the client sent first
// (briefly) so that closing does not reset the connection under the
// answer.
func refuse(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(200 * time.Millisecond))
	var head [4096]byte
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, _ = c.Read(head[:])
	_ = c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	answer := "HTTP/1.1 503 Service Unavailable\r\n" +
		"Content-Type: application/json\r\nCache-Control: no-store\r\nRetry-After: 1\r\n" +
		"Access-Control-Allow-Origin: *\r\nAccess-Control-Expose-Headers: Retry-After\r\n" +
		"Connection: close\r\nContent-Length: " + strconv.Itoa(len(overloadBody)) + "\r\n\r\n" + overloadBody
	if _, err := io.WriteString(c, answer); err != nil {
		return
	}
	if tc, ok := c.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, _ = io.Copy(io.Discard, io.LimitReader(c, 64<<10))
}

// outOfFiles reports a failure for want of file descriptors.
func outOfFiles(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

func (l *limitListener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.mu.Lock()
		if l.reserve != nil {
			_ = l.reserve.Close()
			l.reserve = nil
		}
		l.mu.Unlock()
	})
	return l.Listener.Close()
}

type slotConn struct {
	net.Conn
	once sync.Once
	free func()
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.free)
	return err
}
