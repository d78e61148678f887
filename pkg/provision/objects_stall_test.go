package provision_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/provision"
)

// pipeListener hands the server the far end of in-memory connections: a
// write blocks until the peer reads it, so the bytes the client takes from
// an upload's body are the bytes the server read, not what kernel buffers
// absorbed.
type pipeListener struct {
	conns  chan net.Conn
	once   sync.Once
	closed chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error { l.once.Do(func() { close(l.closed) }); return nil }

func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	c, s := net.Pipe()
	select {
	case l.conns <- s:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// pipeClient is a Client whose uploads have a stall period of period and
// reach handler through a pipeListener; done closes when the test ends, so
// that a handler waiting on the client (which the server notices only
// once it reads) lets the server close.
func pipeClient(t *testing.T, period time.Duration, handler func(http.ResponseWriter, *http.Request, <-chan struct{})) *provision.Client {
	ln := newPipeListener()
	done := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler(w, r, done) }))
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) })
	hc := &http.Client{Transport: &http.Transport{DialContext: ln.dial}}
	c, err := provision.NewClient(provision.ClientOptions{Token: userTok, BaseURL: srv.URL, HTTPClient: hc, StallTimeout: period})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// oneByteBody is an upload read a byte at a time, so that the client's
// count of progress is as fine as the server's reading of it.
type oneByteBody struct{ size int64 }

func (b oneByteBody) Size() int64 { return b.size }

func (b oneByteBody) Open() (io.ReadCloser, error) {
	return io.NopCloser(oneByteReader{io.LimitReader(zeros{}, b.size)}), nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

// TestPutObjectFromFailsOnADrip: a peer that takes the upload a byte at a
// time, never silent for a whole period but far below 2 KiB/s, fails the
// upload as a stall instead of holding it forever. The drip is a byte
// every millisecond against a 200 ms period: 200 bytes in a period where
// 409 are due (before, only silence counted, and this upload of 1 MiB took
// 17 minutes).
func TestPutObjectFromFailsOnADrip(t *testing.T) {
	c := pipeClient(t, 200*time.Millisecond, func(w http.ResponseWriter, r *http.Request, done <-chan struct{}) {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		b := make([]byte, 1)
		for {
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			case <-done:
				return
			}
			if _, err := r.Body.Read(b); err != nil {
				w.WriteHeader(http.StatusOK)
				return
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // catches a hang only
	defer cancel()
	_, err := c.PutObjectFrom(ctx, acct, bkRT, "blobs/x/blob.wasm", oneByteBody{size: 1 << 20}, "")
	if ctx.Err() != nil {
		t.Fatalf("the upload was still dripping after a minute: %v", err)
	}
	pe, ok := provision.AsError(err)
	if !ok {
		t.Fatalf("err = %v, want a *provision.Error", err)
	}
	t.Logf("%s: %s (%v)", pe.Code, pe.Message, pe.Err)
	if pe.Code != provision.CodeUnavailable || !strings.Contains(err.Error(), "stalled") {
		t.Fatalf("err = %v (code %s), want %s saying the upload stalled", err, pe.Code, provision.CodeUnavailable)
	}
}

// TestPutObjectFromStallIsNotAnInterrupt: a peer that stops reading the
// upload fails it as unavailable (69, rerun), not as the caller's own
// interrupt (130): the watchdog ends the upload by cancelling its context.
func TestPutObjectFromStallIsNotAnInterrupt(t *testing.T) {
	c := pipeClient(t, 50*time.Millisecond, func(w http.ResponseWriter, r *http.Request, done <-chan struct{}) {
		<-done // the server learns of the client's going only once it reads
	})
	_, err := c.PutObjectFrom(context.Background(), acct, bkRT, "blobs/x/blob.wasm", oneByteBody{size: 1 << 20}, "")
	if pe, ok := provision.AsError(err); !ok || pe.Code != provision.CodeUnavailable || !strings.Contains(err.Error(), "stalled") {
		t.Fatalf("err = %v, want %s saying the upload stalled", err, provision.CodeUnavailable)
	}
}
