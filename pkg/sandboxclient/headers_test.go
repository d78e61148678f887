package sandboxclient_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/internal/testh2"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// rawWorker answers each request on a raw TCP socket with answer,
// flushed unless it failed (the client hung up); it stands for a broken
// or hostile Worker speaking HTTP/1.1.
func rawWorker(t *testing.T, answer func(w *bufio.Writer) error) string {
	return testh2.RawHTTP1(t, func(c net.Conn) {
		w := bufio.NewWriter(c)
		if answer(w) == nil {
			_ = w.Flush()
		}
	})
}

// TestAnswerHeadersAreBounded: the client reads at most
// MaxResponseHeaderBytes of a Worker's answer headers, 1xx answers
// included, where net/http's default let a broken Worker make each
// request hold 10 MiB; past the bound the call fails with E_BAD_RESPONSE
// (a Worker that does not speak the protocol), not E_TRANSPORT ("cannot
// reach") and not a retry. The Worker here sends 2 MiB of headers, or
// 103 Early Hints answers without end.
func TestAnswerHeadersAreBounded(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(w *bufio.Writer) error
	}{
		{"2 MiB of headers", func(w *bufio.Writer) error {
			_, _ = io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
			line := "X-Pad: " + strings.Repeat("a", 1000) + "\r\n"
			for n := 0; n < 2<<20; n += len(line) {
				if _, err := io.WriteString(w, line); err != nil {
					return err // the client hung up
				}
			}
			_, err := io.WriteString(w, "Content-Length: 27\r\n\r\n{\"ok\":true,\"result\":\"x\"}\n\n\n")
			return err
		}},
		{"endless 1xx answers", func(w *bufio.Writer) error {
			for {
				if _, err := io.WriteString(w, "HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload; as=style\r\n\r\n"); err != nil {
					return err // the client hung up
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep := rawWorker(t, tc.answer)
			sb := box(t, newClient(t, ep, "use"), "job-1")
			_, _, err := sb.ReadFile(ctx(t), "/x")
			var ce *sc.Error
			if !errors.As(err, &ce) || ce.Code != sc.CodeBadResponse || !strings.Contains(ce.Error(), "headers over the limit") || !strings.Contains(ce.Error(), "1048576 bytes") || !strings.Contains(ce.Message, ep) {
				t.Fatalf("err = %v, want %s naming the bound and %s", err, sc.CodeBadResponse, ep)
			}
		})
	}
}

// TestEndlessSlowHeadersAreBounded: a Worker that sends header lines
// without end, each well inside the HTTP timeout, is stopped by the wait
// for the answer headers (one bound for all of them, not re-armed by each
// line), long before the size bound would be reached.
func TestEndlessSlowHeadersAreBounded(t *testing.T) {
	ep := rawWorker(t, func(w *bufio.Writer) error {
		_, _ = io.WriteString(w, "HTTP/1.1 200 OK\r\n")
		for {
			if _, err := io.WriteString(w, "X-Pad: a\r\n"); err != nil {
				return err
			}
			if err := w.Flush(); err != nil {
				return err // the client hung up
			}
			time.Sleep(10 * time.Millisecond) // the drip's pace, not a synchronisation
		}
	})
	sb := box(t, newClient(t, ep, "use", withTimeout(200*time.Millisecond)), "job-1")
	_, _, err := sb.ReadFile(ctx(t), "/x")
	timeoutErr(t, err, ep, "no answer from")
}

// TestInformationalAnswersAreBoundedOverHTTP2: over HTTP/2 (a Worker
// behind https) net/http bounds 1xx answers too, and reports it as a
// stream's PROTOCOL_ERROR whose cause it keeps as text only; the call
// still fails with E_BAD_RESPONSE, not E_TRANSPORT "cannot reach". The
// Worker here is Go's HTTP/2 server sending 103 Early Hints until the
// client resets the stream; the client uses the server's own HTTP client
// (its certificate), so the bound is net/http's 10 MiB, not the 1 MiB of
// the package's transport.
func TestInformationalAnswersAreBoundedOverHTTP2(t *testing.T) {
	srv := testh2.Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for r.Context().Err() == nil {
			w.Header().Set("Link", "</app.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
		}
	}))
	sb := box(t, newClient(t, srv.URL, "use", func(o *sc.Options) { o.HTTPClient = srv.Client() }), "job-1")
	_, _, err := sb.ReadFile(ctx(t), "/x")
	var ce *sc.Error
	if !errors.As(err, &ce) || ce.Code != sc.CodeBadResponse || !strings.Contains(ce.Error(), "headers over the limit") || !strings.Contains(ce.Error(), "stream error") {
		t.Fatalf("err = %v, want %s saying the headers were over the limit", err, sc.CodeBadResponse)
	}
}

// h2Client is an HTTP client for srv's certificate speaking HTTP/2, with
// the package's bound on answer headers.
func h2Client(srv *httptest.Server) *http.Client {
	return testh2.Client(srv, sc.MaxResponseHeaderBytes)
}

// TestAnswerHeadersAreBoundedOverHTTP2: over HTTP/2 (a Worker behind
// https) net/http reports final answer headers over the bound in three
// ways, by how they arrive: a stream's PROTOCOL_ERROR naming the limit
// when the encoded block ended in the frame that passed it (here the
// same field again and again, which HPACK sends as one byte each), the
// connection's PROTOCOL_ERROR when it goes on in further frames (fields
// HPACK cannot index), the connection's COMPRESSION_ERROR for one field
// over the bound. Each is E_BAD_RESPONSE, as over HTTP/1.1, where it was
// E_TRANSPORT "cannot reach". The Worker is Go's HTTP/2 server.
func TestAnswerHeadersAreBoundedOverHTTP2(t *testing.T) {
	for _, tc := range []struct {
		name string
		pad  func(h http.Header)
		want string
	}{
		{"the same field", func(h http.Header) { testh2.PadSameField(h, 2<<20) }, "had headers over the limit: stream error: stream ID 1; PROTOCOL_ERROR; http2: response header list larger than advertised limit"},
		{"fields in many frames", testh2.PadManyFrames, "had headers over the limit or frames that break HTTP/2: connection error: PROTOCOL_ERROR"},
		{"one field", func(h http.Header) { testh2.PadOneField(h, 2<<20) }, "had headers over the limit or frames that break HTTP/2: connection error: COMPRESSION_ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testh2.Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tc.pad(w.Header())
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"ok":true,"result":"x"}`)
			}))
			sb := box(t, newClient(t, srv.URL, "use", func(o *sc.Options) { o.HTTPClient = h2Client(srv) }), "job-1")
			_, _, err := sb.ReadFile(ctx(t), "/x")
			var ce *sc.Error
			if !errors.As(err, &ce) || ce.Code != sc.CodeBadResponse || !strings.Contains(ce.Error(), tc.want) || !strings.Contains(ce.Message, srv.URL) {
				t.Fatalf("err = %v, want %s saying %q", err, sc.CodeBadResponse, tc.want)
			}
		})
	}
}

// TestStreamResetsOverHTTP2StayTransport: a stream the Worker resets
// (its handler aborted, or a RST_STREAM with PROTOCOL_ERROR) and a
// GOAWAY with PROTOCOL_ERROR are failures to get an answer, E_TRANSPORT
// "cannot reach" as before, not the headers over the bound of
// TestAnswerHeadersAreBoundedOverHTTP2 that net/http also reports with
// PROTOCOL_ERROR.
func TestStreamResetsOverHTTP2StayTransport(t *testing.T) {
	abort := testh2.Server(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	for _, tc := range []struct {
		name, url, want string
	}{
		{"handler aborted", abort.URL, "stream error: stream ID 1; INTERNAL_ERROR; received from peer"},
		// 0x3 RST_STREAM, code 1 PROTOCOL_ERROR.
		{"RST_STREAM PROTOCOL_ERROR", testh2.RawHTTP2(t, abort, testh2.Frame(0x3, 0, 1, []byte{0, 0, 0, 1}), false), "stream error: stream ID 1; PROTOCOL_ERROR; received from peer"},
		// 0x7 GOAWAY, last stream 0, code 1 PROTOCOL_ERROR.
		{"GOAWAY PROTOCOL_ERROR", testh2.RawHTTP2(t, abort, testh2.Frame(0x7, 0, 0, []byte{0, 0, 0, 0, 0, 0, 0, 1}), false), "received GOAWAY from server ErrCode:PROTOCOL_ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hc := h2Client(abort)
			// Reads are retried on some transport failures; one attempt
			// keeps the answer the one under test.
			sb := box(t, newClient(t, tc.url, "use", func(o *sc.Options) { o.HTTPClient = hc; o.Retry.MaxAttempts = 1 }), "job-1")
			_, _, err := sb.ReadFile(ctx(t), "/x")
			var ce *sc.Error
			if !errors.As(err, &ce) || ce.Code != sc.CodeTransport || !strings.Contains(ce.Error(), "cannot reach "+tc.url) || !strings.Contains(ce.Error(), tc.want) {
				t.Fatalf("err = %v, want %s cannot reach, %q", err, sc.CodeTransport, tc.want)
			}
		})
	}
}

// TestBrokenHTTP2ConnectionRetriesTheOtherStreams: net/http ends every
// stream of an HTTP/2 connection with the connection's error, so a read
// that waited on a kept-alive connection when the answer to another
// request broke it (headers over the bound, in many frames) gets
// "connection error: PROTOCOL_ERROR" too, though its own answer broke
// nothing: it is retried, as a read on a kept-alive connection that died
// under it always was, and succeeds on a new connection. The request
// whose answer broke it is E_BAD_RESPONSE.
func TestBrokenHTTP2ConnectionRetriesTheOtherStreams(t *testing.T) {
	var goods atomic.Int32
	var text string
	err := breakBeside(t, func(body string) bool {
		return strings.Contains(body, "/good") && goods.Add(1) == 1
	}, func(sb *sc.Sandbox) (err error) {
		text, _, err = sb.ReadFile(ctx(t), "/good")
		return err
	})
	if err != nil {
		// net/http can hand the retry the dying connection and let its
		// answer start there, whose body then fails with the same
		// connection error: a failure to read the answer (E_TRANSPORT,
		// retryable by the caller), but never the broken answer's blame.
		var ce *sc.Error
		if errors.As(err, &ce) && ce.Code == sc.CodeTransport {
			return
		}
		t.Fatalf("the read beside it: err = %v; want it retried on a new connection (or, when its retry met the dying connection, %s)", err, sc.CodeTransport)
	}
	if text != "x" {
		t.Fatalf("the read beside it: %q, want x", text)
	}
	// Twice at least: the first attempt dies with the connection. A retry
	// can still be handed the broken connection before the transport has
	// marked it dead, and is then retried again, within the attempts.
	if n := goods.Load(); n < 2 || n > 4 {
		t.Fatalf("the read beside it was sent %d times, want 2 to 4 (the default MaxAttempts)", n)
	}
}

// breakBeside runs call on a kept-alive HTTP/2 connection to Go's server
// answering ready and reads (with "x"), which holds the request hold
// picks, unanswered, until the client hangs up on it. Once it holds one,
// a read of /bad, whose answer has headers over the bound in many frames,
// breaks the connection: that read must fail with E_BAD_RESPONSE.
// breakBeside returns the error of call.
func breakBeside(t *testing.T, hold func(body string) bool, call func(sb *sc.Sandbox) error) error {
	t.Helper()
	held := make(chan struct{})
	var once sync.Once
	srv := testh2.Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case strings.Contains(string(body), `"op":"ready"`):
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true,"result":{"ok":true,"preinstalled":[]}}`)
			return
		case strings.Contains(string(body), "/bad"):
			testh2.PadManyFrames(w.Header())
		case hold(string(body)):
			once.Do(func() { close(held) })
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"result":"x"}`)
	}))
	sb := box(t, newClient(t, srv.URL, "use", func(o *sc.Options) { o.HTTPClient = h2Client(srv) }), "job-1")
	if _, _, err := sb.ReadFile(ctx(t), "/warm"); err != nil {
		t.Fatal(err)
	}
	callErr := make(chan error, 1)
	go func() { callErr <- call(sb) }()
	<-held
	_, _, err := sb.ReadFile(ctx(t), "/bad")
	var ce *sc.Error
	if !errors.As(err, &ce) || ce.Code != sc.CodeBadResponse || !strings.Contains(ce.Error(), "connection error: PROTOCOL_ERROR") {
		t.Fatalf("the broken answer: err = %v, want %s", err, sc.CodeBadResponse)
	}
	return <-callErr
}

// TestCutHTTP2AnswersStayTransport: a Worker (or a proxy before it) that
// hangs up in the middle of an answer's header block, between its frames
// or inside one, is a failure to get the answer, E_TRANSPORT "cannot
// reach" (and a read is retried), not the broken frames of
// TestAnswerHeadersAreBoundedOverHTTP2: net/http reads those as an
// unexpected EOF, not as a connection's PROTOCOL_ERROR.
func TestCutHTTP2AnswersStayTransport(t *testing.T) {
	certs := testh2.Server(t, http.NotFoundHandler())
	// HEADERS on stream 1 without END_HEADERS: ":status: 200" (HPACK
	// static index 8), then a field that the CONTINUATION never finishes.
	headers := testh2.Frame(0x1, 0, 1, []byte{0x88, 0x40, 0x05, 'x', '-', 'p', 'a', 'd'})
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"between frames", headers},
		{"inside a frame", append(headers, testh2.Frame(0x9, 0x4, 1, []byte{0x03, 'a', 'b', 'c'})[:11]...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := testh2.RawHTTP2(t, certs, tc.raw, true)
			sb := box(t, newClient(t, url, "use", func(o *sc.Options) { o.HTTPClient = h2Client(certs); o.Retry.MaxAttempts = 1 }), "job-1")
			_, _, err := sb.ReadFile(ctx(t), "/x")
			var ce *sc.Error
			if !errors.As(err, &ce) || ce.Code != sc.CodeTransport || !strings.Contains(ce.Error(), "cannot reach "+url) {
				t.Fatalf("err = %v, want %s cannot reach", err, sc.CodeTransport)
			}
		})
	}
}

// TestBrokenHTTP2ConnectionLeavesAnExecUnknown: an exec waiting for its
// answer on a kept-alive HTTP/2 connection when another request's answer
// broke it (headers over the bound, in many frames) gets net/http's
// "connection error: PROTOCOL_ERROR" too. It is not retried (it may have
// run), and it is not E_BAD_RESPONSE either, the Worker answering it with
// what no Worker sends, as it was: its own answer never came. It is
// E_TRANSPORT, saying that the command may or may not have run. The read
// whose answer broke the connection is E_BAD_RESPONSE.
func TestBrokenHTTP2ConnectionLeavesAnExecUnknown(t *testing.T) {
	var execs atomic.Int32
	err := breakBeside(t, func(body string) bool {
		return strings.Contains(body, `"op":"exec"`) && execs.Add(1) > 0
	}, func(sb *sc.Sandbox) error {
		_, err := sb.Exec(ctx(t), "make deploy", sc.ExecOptions{})
		return err
	})
	var ce *sc.Error
	if !errors.As(err, &ce) || ce.Code != sc.CodeTransport || !ce.OutcomeUnknown || !strings.Contains(ce.Message, "may or may not have run") || !strings.Contains(ce.Message, "https://127.0.0.1:") || !strings.HasSuffix(ce.Error(), "connection error: PROTOCOL_ERROR") {
		t.Fatalf("the exec beside it: err = %v, want %s saying it may or may not have run", err, sc.CodeTransport)
	}
	if n := execs.Load(); n != 1 {
		t.Fatalf("the exec was sent %d times, want once", n)
	}
}
