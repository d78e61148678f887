package localsandbox

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
)

// Transport is an http.RoundTripper that serves each request with Handler
// in the same process: no listener, no port. Responses stream (a handler's
// Flush delivers what was written so far), request bodies stream to the
// handler, and closing a response body cancels the handler's request
// context, as a client disconnect does on a real server.
type Transport struct {
	// Handler serves every request, usually the *Server of New; it must
	// not be nil. Requests reach it from RemoteAddr 127.0.0.1:0 and marked
	// as in-process, so the app verbs answer url null: no browser could
	// open a URL of this transport.
	Handler http.Handler
}

// RoundTrip runs the handler and returns once it has written its header.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	in := req.Clone(context.WithValue(ctx, inProcessKey{}, true))
	// The client's trace hears of the request as net/http's transport
	// tells it: written once the handler has read the whole body (a
	// client's bound on sending the request ends there, and the wait for
	// the answer starts).
	trace := httptrace.ContextClientTrace(req.Context())
	if trace != nil && trace.WroteHeaders != nil {
		trace.WroteHeaders()
	}
	var wrote func(httptrace.WroteRequestInfo)
	if trace != nil {
		wrote = trace.WroteRequest
	}
	if in.Body == nil || in.Body == http.NoBody {
		in.Body = http.NoBody
		if wrote != nil {
			wrote(httptrace.WroteRequestInfo{})
		}
	} else if wrote != nil {
		left := in.ContentLength
		if left <= 0 {
			left = -1 // unknown (an empty body is http.NoBody)
		}
		in.Body = &tracedBody{ReadCloser: in.Body, left: left, wrote: wrote}
	}
	in.RemoteAddr = "127.0.0.1:0"
	in.RequestURI = req.URL.RequestURI()
	if in.Host == "" {
		in.Host = req.URL.Host
	}
	pr, pw := io.Pipe()
	rw := &pipeResponse{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	rw.bw = bufio.NewWriterSize(pw, 64<<10)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				select {
				case <-rw.ready:
					// The answer has started: cut it, as a server cuts
					// the connection, so that the client reads an error
					// rather than a short answer.
					_ = rw.bw.Flush()
					_ = pw.CloseWithError(errAnswerCut)
					return
				default:
					rw.WriteHeader(http.StatusInternalServerError)
				}
			}
			rw.WriteHeader(http.StatusOK)
			_ = rw.bw.Flush()
			_ = pw.Close()
		}()
		t.Handler.ServeHTTP(rw, in)
	}()
	select {
	case <-rw.ready:
	case <-ctx.Done():
		cancel()
		_ = pr.CloseWithError(ctx.Err())
		return nil, ctx.Err()
	}
	return &http.Response{
		Status:        http.StatusText(rw.status),
		StatusCode:    rw.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rw.sent,
		Body:          &pipeBody{pr: pr, cancel: cancel},
		ContentLength: -1,
		Request:       req,
	}, nil
}

// errAnswerCut is what the client reads from an answer the handler
// abandoned once it had started (http.ErrAbortHandler).
var errAnswerCut = errors.New("localsandbox: the answer was cut off")

// pipeResponse is the handler's ResponseWriter: writes are buffered and
// flushed into a pipe read by the client.
type pipeResponse struct {
	header http.Header
	sent   http.Header
	status int
	pw     *io.PipeWriter
	bw     *bufio.Writer
	once   sync.Once
	ready  chan struct{}
}

func (w *pipeResponse) Header() http.Header { return w.header }

func (w *pipeResponse) WriteHeader(code int) {
	w.once.Do(func() {
		w.status = code
		w.sent = w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeResponse) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.bw.Write(p)
}

// Flush delivers buffered output to the client.
func (w *pipeResponse) Flush() {
	w.WriteHeader(http.StatusOK)
	_ = w.bw.Flush()
}

// FlushError is Flush reporting a client that has gone away; it is what
// http.ResponseController uses.
func (w *pipeResponse) FlushError() error {
	w.WriteHeader(http.StatusOK)
	return w.bw.Flush()
}

type pipeBody struct {
	pr     *io.PipeReader
	cancel context.CancelFunc
}

func (b *pipeBody) Read(p []byte) (int, error) { return b.pr.Read(p) }

func (b *pipeBody) Close() error {
	b.cancel()
	return b.pr.CloseWithError(io.ErrClosedPipe)
}

// tracedBody is a request body that reports the request written (the
// trace's WroteRequest) once the handler has read all of it: to its end,
// or as many bytes as its length says. Reads after that end here, as they
// would on a connection: the client's body is not asked again (it counts
// each read as progress of the upload).
type tracedBody struct {
	io.ReadCloser
	left  int64 // bytes still to come; negative when unknown
	wrote func(httptrace.WroteRequestInfo)
	done  bool
}

func (b *tracedBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.ReadCloser.Read(p)
	if b.left >= 0 {
		b.left -= int64(n)
	}
	if err == io.EOF || b.left == 0 {
		b.done = true
		b.wrote(httptrace.WroteRequestInfo{})
		if err == nil && n == 0 {
			err = io.EOF
		}
	}
	return n, err
}
