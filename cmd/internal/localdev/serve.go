package localdev

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nimbus-sh/nimbus/internal/unreadbody"
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
// room, so idle connections cannot lock other clients out. Clients from
// other machines (--allow-remote) get a share: each at most
// MaxConnsPerClient (a quarter of MaxConns by default), and all of them
// together at most three quarters, so that a quarter stays for this
// machine's own tools; see limitListener. None of these limits the length
// of a response: an exec stream may stay silent for hours, bounded only by
// TCP keepalive noticing a dead peer.
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
	// MaxConnsPerClient bounds the connections of one client from another
	// machine (one IPv4 address, one IPv6 /64); default MaxConns/4.
	// Clients on loopback are this machine's and share MaxConns.
	MaxConnsPerClient int
	// Logf reports trouble the server deals with itself (running out of
	// file descriptors), at most once a minute per kind; nil discards it.
	Logf func(format string, args ...any)
	// Procs, when set, is told how many processors the server should run
	// on: 1 from the start and whenever at most one request has been in
	// flight for ProcsQuiet, 0 (the default) as soon as two requests are
	// in flight, and 0 when Serve returns. RuntimeProcs applies it to this
	// process. nil leaves GOMAXPROCS alone.
	Procs func(n int)
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
	if o.MaxConnsPerClient <= 0 {
		o.MaxConnsPerClient = max(1, o.MaxConns/4)
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
	var g *procGovernor
	if o.Procs != nil {
		g = newProcGovernor(o.Procs)
		defer g.stop()
	}
	srv := &http.Server{
		Handler:           bounded(h, o, g),
		ReadHeaderTimeout: o.HeaderTimeout,
		IdleTimeout:       o.IdleTimeout,
		// The platform's header limit.
		MaxHeaderBytes: 128 << 10,
	}
	ll := newLimitListener(ln, o.MaxConns, o.Logf)
	ll.perClient = o.MaxConnsPerClient
	srv.ConnState = ll.track
	// Each request finds its connection's record (write deadline, see
	// deadlineWriter) in its context.
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if sc, ok := c.(*slotConn); ok {
			return context.WithValue(ctx, connKey{}, sc)
		}
		return ctx
	}
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
// every write, so it bounds a stalled client, not a long answer. A
// request costs one allocation here. g, when not nil, counts the
// requests in flight.
func bounded(h http.Handler, o ServeOptions, g *procGovernor) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := &boundedRequest{dw: deadlineWriter{ResponseWriter: w, rc: *http.NewResponseController(w), d: o.WriteTimeout}}
		b.dw.conn, _ = r.Context().Value(connKey{}).(*slotConn)
		if r.Body != nil && r.Body != http.NoBody {
			_ = b.dw.rc.SetReadDeadline(time.Now().Add(o.BodyTimeout))
			b.dw.readDeadline.Store(true)
			b.body = liftAtEOF{ReadCloser: r.Body, w: &b.dw}
			r.Body = &b.body
			b.dw.body = &b.body
		}
		if g != nil {
			g.begin(b.dw.conn)
			defer g.end()
		}
		h.ServeHTTP(&b.dw, r)
	})
}

// boundedRequest holds what bounded wraps a request in.
type boundedRequest struct {
	dw   deadlineWriter
	body liftAtEOF
}

// connKey finds a request's *slotConn in its context.
type connKey struct{}

// liftAtEOF lifts the read deadline once the body has been read to its
// end.
type liftAtEOF struct {
	io.ReadCloser
	w *deadlineWriter
	// touched says the body has been read from (atomic: a proxy's
	// transport reads it in a goroutine of its own).
	touched atomic.Bool
}

func (b *liftAtEOF) Read(p []byte) (int, error) {
	if !b.touched.Load() {
		b.touched.Store(true)
	}
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		_ = b.w.SetReadDeadline(time.Time{})
	}
	return n, err
}

// deadlineWriter renews the connection's write deadline before each write.
// Each deadline change is a timer change in the runtime: it skips the ones
// that change nothing (lifting a read deadline already lifted, as the API
// handler does once it has the body; renewing a write deadline renewed
// less than a 16th of it ago on the same connection, as for the header
// and the body of one small answer, or the answers of a client's next
// requests), so the bound on a stalled client stays between 15/16 of
// WriteTimeout and all of it.
type deadlineWriter struct {
	http.ResponseWriter
	rc http.ResponseController
	d  time.Duration
	// conn is the connection's record, nil when the server does not know
	// it (then renewed, below, is the record).
	conn *slotConn
	// body is the request's body, nil when it has none.
	body *liftAtEOF

	// readDeadline is whether a read deadline is set (atomic: a proxy's
	// transport reads the body, and lifts, in a goroutine of its own).
	readDeadline atomic.Bool
	renewed      atomic.Int64 // when the write deadline was last renewed (monoAt), without conn
}

// lastRenewal is where the time of the last renewal is kept.
func (w *deadlineWriter) lastRenewal() *atomic.Int64 {
	if w.conn != nil {
		return &w.conn.writeRenewed
	}
	return &w.renewed
}

func (w *deadlineWriter) renew() {
	now := time.Now()
	last := w.lastRenewal()
	if t := last.Load(); t != 0 && monoAt(now)-t < int64(w.d/16) {
		return
	}
	last.Store(monoAt(now))
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
	w.lastRenewal().Store(0)
	return w.rc.SetWriteDeadline(t)
}

func (w *deadlineWriter) WriteHeader(code int) {
	if code >= 400 && w.body != nil && !w.body.touched.Load() {
		// A refusal before a byte of the body was read (no token,
		// another Host, a cross-site request): see unreadbody.
		unreadbody.Refuse(w)
	}
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
//
// Clients from other machines get a fair share (see admitRemote): each
// at most perClient slots, all of them together at most remoteMax, so
// that one client on the LAN cannot hold every slot with slow heads and
// this machine's own tools always find room. Loopback clients share
// every slot, as before: on a loopback-only server nothing changes.
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
	// lost says the reserve is not held (it could not be taken again, or
	// not at all at start): Accept and shed take it again when they can.
	lost atomic.Bool

	// conns are the open connections (guarded by qmu); quietWake says one
	// became quiet while Accept waits for room (waiting).
	qmu       sync.Mutex
	conns     map[*slotConn]struct{}
	quietWake chan struct{}
	waiting   atomic.Bool

	// perClient and remoteMax bound the slots of one remote client and of
	// all of them; clients and remote count them (guarded by qmu).
	perClient int
	remoteMax int
	clients   map[netip.Prefix]int
	remote    int
	// refusing bounds the refusals answered at once (each holds a
	// descriptor for at most refuseTime); lastShareLog is when a client
	// over its share was last reported (Accept's goroutine only).
	refusing     chan struct{}
	lastShareLog time.Time
}

// maxRefusing is how many over-share clients are answered 503 at once;
// beyond that they are closed unanswered, so that a flood of them costs
// neither descriptors nor goroutines.
const maxRefusing = 16

func newLimitListener(ln net.Listener, maxConns int, logf func(string, ...any)) *limitListener {
	l := &limitListener{Listener: ln, slots: make(chan struct{}, maxConns), done: make(chan struct{}), logf: logf, quietWake: make(chan struct{}, 1), conns: map[*slotConn]struct{}{},
		perClient: max(1, maxConns/4), remoteMax: maxConns - maxConns/4, clients: map[netip.Prefix]int{}, refusing: make(chan struct{}, maxRefusing)}
	l.takeReserve()
	return l
}

// isLocalClient says which peers are this machine's own tools (tests
// pick some loopback addresses to play remote clients).
var isLocalClient = func(ip netip.Addr) bool { return ip.IsLoopback() }

// clientOf names the client at addr: an IPv4 address, or an IPv6 /64 (a
// host picks any address in its /64 at will, so one address is no
// client). ok is false for this machine's own clients, which share every
// slot.
func clientOf(addr net.Addr) (client netip.Prefix, ok bool) {
	ta, isTCP := addr.(*net.TCPAddr)
	if !isTCP {
		return netip.Prefix{}, false
	}
	ip := ta.AddrPort().Addr().Unmap()
	if !ip.IsValid() || isLocalClient(ip) {
		return netip.Prefix{}, false
	}
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p, true
}

// Accept accepts the next client, then waits for a slot for it. While
// it waits, the connection quiet the longest (see track) is closed once
// it has been quiet for evictGrace: an idle keep-alive connection may be
// closed by a server at any time (clients retry on a fresh one), and a
// connection that has sent nothing has no request to lose. Connections
// with a request in progress are never closed for room. One client at a
// time waits, so descriptors stay bounded by MaxConns+1 (and the
// refusals of admitRemote). Remote clients never wait: one that would is
// admitted or refused at once (admitRemote), so that none holds up the
// clients queued behind it.
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
		if c == nil {
			// shed answered 503 (or backed off): accept again.
			continue
		}
		if l.lost.Load() {
			// Descriptors were short when the reserve was last given up:
			// accepting again says some are back, and the next shortage
			// needs the reserve to answer 503.
			l.takeReserve()
		}
		if client, remote := clientOf(c.RemoteAddr()); remote {
			if sc := l.admitRemote(c, client, time.Now()); sc != nil {
				return sc, nil
			}
			c = nil
		}
	}
	select {
	case l.slots <- struct{}{}:
		return l.open(c, netip.Prefix{}), nil
	case <-l.done:
		_ = c.Close()
		return nil, net.ErrClosed
	default:
	}
	l.waiting.Store(true)
	defer l.waiting.Store(false)
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		// A connection quiet for evictGrace is closed, a remote one
		// first; otherwise wait for the quietest to be, or (none quiet)
		// for one to become quiet.
		wait := l.evictQuiet(time.Now(), isRemote)
		if wait < 0 {
			wait = l.evictQuiet(time.Now(), anyConn)
		}
		var ripe <-chan time.Time
		var quiet <-chan struct{}
		if wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			ripe = timer.C
		} else if wait < 0 {
			quiet = l.quietWake
		}
		select {
		case l.slots <- struct{}{}:
			return l.open(c, netip.Prefix{}), nil
		case <-l.done:
			_ = c.Close()
			return nil, net.ErrClosed
		case <-quiet:
		case <-ripe:
		}
	}
}

// admitRemote gives c, from client on another machine, a slot if it is
// within its share: under perClient connections of its own, under
// remoteMax for all remote clients together, and a slot free. Otherwise
// it makes room as Accept does, without waiting: it closes the
// connection quiet for evictGrace the longest among the client's own (over
// its share), the remote ones (remote clients over theirs), or remote
// ones first, then any (every slot taken). With nothing to close, c is
// refused (503 with Retry-After, as for a shortage of descriptors, before
// any of its request is read: see refuseShare) and admitRemote returns
// nil. So a client on the LAN holding its share with slow heads or idle
// connections only ever displaces its own, and this machine's clients
// keep MaxConns-remoteMax slots to wait for.
func (l *limitListener) admitRemote(c net.Conn, client netip.Prefix, now time.Time) *slotConn {
	l.qmu.Lock()
	own, remote := l.clients[client], l.remote
	l.qmu.Unlock()
	var evict []func(*slotConn) bool
	switch {
	case own >= l.perClient:
		evict = []func(*slotConn) bool{func(sc *slotConn) bool { return sc.remote && sc.client == client }}
	case remote >= l.remoteMax:
		evict = []func(*slotConn) bool{isRemote}
	case len(l.slots) == cap(l.slots):
		evict = []func(*slotConn) bool{isRemote, anyConn}
	}
	for _, match := range evict {
		if l.evictQuiet(now, match) == 0 {
			evict = nil
			break
		}
	}
	if evict == nil {
		select {
		case l.slots <- struct{}{}:
			return l.open(c, client)
		default:
		}
	}
	if l.logf != nil && now.Sub(l.lastShareLog) > time.Minute {
		l.lastShareLog = now
		l.logf("refusing connections from %s: it holds %d connections (at most %d each, %d for all clients from other machines), none of them quiet for %v", client.Addr(), own, l.perClient, l.remoteMax, evictGrace)
	}
	l.refuseShare(c)
	return nil
}

// isRemote and anyConn choose among open connections.
func isRemote(sc *slotConn) bool { return sc.remote }
func anyConn(*slotConn) bool     { return true }

// refuseShare answers c 503 in a goroutine of its own (refuse reads
// briefly, and Accept must not), or closes it unanswered when
// maxRefusing are being answered already.
func (l *limitListener) refuseShare(c net.Conn) {
	select {
	case l.refusing <- struct{}{}:
		go func() {
			defer func() { <-l.refusing }()
			refuse(c, shareBody)
		}()
	default:
		_ = c.Close()
	}
}

// evictGrace is how long a connection must have been quiet before it is
// closed for room. One that has just been answered is about to carry its
// client's next request, and closing it then resets that request, which
// a client retries only when it is idempotent (not a POST). A variable
// for tests.
var evictGrace = time.Second

// open records c, which holds a slot, as an open connection of client
// (the zero prefix for this machine's): quiet (see track) until its first
// request.
func (l *limitListener) open(c net.Conn, client netip.Prefix) *slotConn {
	sc := &slotConn{Conn: c, l: l, client: client, remote: client.IsValid()}
	sc.quietSince.Store(monoAt(time.Now()))
	l.qmu.Lock()
	l.conns[sc] = struct{}{}
	if sc.remote {
		l.clients[client]++
		l.remote++
	}
	l.qmu.Unlock()
	return sc
}

// track follows the server's connection states: a connection is quiet
// when it is new (nothing read yet) or idle between requests. It runs
// twice per request, so it only marks the connection; evictQuiet looks
// for the oldest quiet one when it needs room.
func (l *limitListener) track(c net.Conn, s http.ConnState) {
	sc, ok := c.(*slotConn)
	if !ok {
		return
	}
	switch s {
	case http.StateNew, http.StateIdle:
		sc.quietSince.Store(monoAt(time.Now()))
		if l.waiting.Load() {
			select {
			case l.quietWake <- struct{}{}:
			default:
			}
		}
	default:
		sc.quietSince.Store(0)
	}
}

// evictQuiet closes the connection that match accepts and that has been
// quiet the longest if it has been for evictGrace, and returns 0;
// otherwise it returns how long until that one has, or -1 when no such
// connection is quiet.
func (l *limitListener) evictQuiet(now time.Time, match func(*slotConn) bool) time.Duration {
	l.qmu.Lock()
	var oldest *slotConn
	var since int64
	for c := range l.conns {
		if t := c.quietSince.Load(); t != 0 && (oldest == nil || t < since) && match(c) {
			oldest, since = c, t
		}
	}
	l.qmu.Unlock()
	if oldest == nil {
		return -1
	}
	if wait := time.Duration(since + int64(evictGrace) - monoAt(now)); wait > 0 {
		return wait
	}
	_ = oldest.Close()
	return 0
}

// overloadBody is the answer to a client that cannot be served for want
// of file descriptors: the platform's overload answer.
const overloadBody = `{"ok":false,"error":"nimbus dev is out of file descriptors: too many connections or commands at once; retry shortly","code":"E_NIMBUS_DO_OVERLOADED"}`

// shareBody is the answer to a client from another machine over its
// share of connections.
const shareBody = `{"ok":false,"error":"nimbus dev has too many connections from your address open, none of them idle; retry shortly","code":"E_NIMBUS_DO_OVERLOADED"}`

// shed runs when accepting failed for want of descriptors. It frees the
// descriptor held in reserve and accepts the next client with it: if
// descriptors were freed meanwhile (the reserve can be taken again), the
// client is served; otherwise it is answered 503 with Retry-After and
// closed. Without a reserve (lost to an earlier shortage), it takes the
// reserve again if descriptors were freed since, and otherwise pauses (up
// to a second, growing) so that the accept loop does not spin. It returns
// a client to serve, nothing (accept again), or an error once the
// listener is closed.
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
			refuse(c, overloadBody)
			if l.takeReserve() {
				return nil, nil
			}
		} else if errors.Is(err, net.ErrClosed) {
			return nil, err
		} else {
			l.takeReserve()
		}
	} else if l.takeReserve() {
		// The reserve was lost to an earlier shortage and descriptors
		// are back: accept again, with a reserve to shed with.
		return nil, nil
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
// be had, and then lost stays set until a later call succeeds.
func (l *limitListener) takeReserve() bool {
	f, err := os.Open(os.DevNull)
	if err != nil {
		l.lost.Store(true)
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
	l.lost.Store(false)
	return true
}

// refuse answers c 503 with body and closes it, reading what the client
// sent first (briefly, never waiting for a body) so that closing does not
// reset the connection under the answer.
func refuse(c net.Conn, body string) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(200 * time.Millisecond))
	var head [4096]byte
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, _ = c.Read(head[:])
	_ = c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	answer := "HTTP/1.1 503 Service Unavailable\r\n" +
		"Content-Type: application/json\r\nCache-Control: no-store\r\nRetry-After: 1\r\n" +
		"Access-Control-Allow-Origin: *\r\nAccess-Control-Expose-Headers: Retry-After\r\n" +
		"Connection: close\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
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

// slotConn is an accepted connection holding a slot of the listener
// until it is closed.
type slotConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
	// quietSince is when the connection became quiet (monoAt), 0 while
	// a request is in progress.
	quietSince atomic.Int64
	// writeRenewed is when its write deadline was last renewed
	// (monoAt; see deadlineWriter).
	writeRenewed atomic.Int64
	// closed is set by Close (procGovernor tells clients apart by
	// connection, and a closed one is a client gone).
	closed atomic.Bool
	// client is who holds the slot when remote (see clientOf).
	client netip.Prefix
	remote bool
}

// gone reports whether c is a client gone: closed by the server, or by
// the client before the server has read that far.
func (c *slotConn) gone() bool { return c.closed.Load() || peerClosed(c.Conn) }

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.closed.Store(true)
	c.once.Do(func() {
		c.l.qmu.Lock()
		delete(c.l.conns, c)
		if c.remote {
			if c.l.clients[c.client]--; c.l.clients[c.client] == 0 {
				delete(c.l.clients, c.client)
			}
			c.l.remote--
		}
		c.l.qmu.Unlock()
		<-c.l.slots
	})
	return err
}

// monoBase is the origin of monoAt's clock.
var monoBase = time.Now()

// monoAt is t on a monotonic clock in nanoseconds, never 0 (0 marks "not
// set" in the records above): the wall clock may be stepped back, which
// would hold a waiting client for as long, or skip write deadline
// renewals until a long answer is cut.
func monoAt(t time.Time) int64 { return int64(t.Sub(monoBase)) + 1 }
