package localdev

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
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
// descriptors: further clients wait in the listen queue. None of these
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
	ll := &limitListener{Listener: ln, slots: make(chan struct{}, o.MaxConns), done: make(chan struct{})}
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
		if r.Body != nil && r.Body != http.NoBody {
			_ = rc.SetReadDeadline(time.Now().Add(o.BodyTimeout))
			r.Body = &liftAtEOF{ReadCloser: r.Body, lift: func() { _ = rc.SetReadDeadline(time.Time{}) }}
		}
		h.ServeHTTP(&deadlineWriter{ResponseWriter: w, rc: rc, d: o.WriteTimeout}, r)
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
type deadlineWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (w *deadlineWriter) renew() { _ = w.rc.SetWriteDeadline(time.Now().Add(w.d)) }

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
// is freed when its connection is closed.
type limitListener struct {
	net.Listener
	slots chan struct{}
	done  chan struct{}
	once  sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &slotConn{Conn: c, free: func() { <-l.slots }}, nil
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
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
