package sandboxclient_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// rawWorker serves each connection with answer, written after the
// request was read, until the client hangs up; it stands for a broken or
// hostile Worker speaking HTTP/1.1 on a raw TCP socket.
func rawWorker(t *testing.T, answer func(w *bufio.Writer) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, req.Body)
				w := bufio.NewWriter(c)
				if answer(w) == nil {
					_ = w.Flush()
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
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
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for r.Context().Err() == nil {
			w.Header().Set("Link", "</app.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
		}
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
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
	hc := srv.Client()
	tr := hc.Transport.(*http.Transport).Clone()
	tr.MaxResponseHeaderBytes = sc.MaxResponseHeaderBytes
	hc.Transport = tr
	return hc
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
		{"the same field", func(h http.Header) {
			v := strings.Repeat("a", 1000)
			for n := 0; n < 2<<20; n += 1000 {
				h.Add("X-Pad", v)
			}
		}, "had headers over the limit: stream error: stream ID 1; PROTOCOL_ERROR; http2: response header list larger than advertised limit"},
		{"fields in many frames", func(h http.Header) {
			for i := 0; i < 2<<10; i++ {
				h.Add("X-Pad", strings.Repeat(string(rune('a'+i%26)), 1000+i))
			}
		}, "had headers over the limit or frames that break HTTP/2: connection error: PROTOCOL_ERROR"},
		{"one field", func(h http.Header) {
			h.Set("X-Pad", strings.Repeat("a", 2<<20))
		}, "had headers over the limit or frames that break HTTP/2: connection error: COMPRESSION_ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tc.pad(w.Header())
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"ok":true,"result":"x"}`)
			}))
			srv.EnableHTTP2 = true
			srv.StartTLS()
			defer srv.Close()
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
	abort := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	abort.EnableHTTP2 = true
	abort.StartTLS()
	defer abort.Close()
	for _, tc := range []struct {
		name, url, want string
	}{
		{"handler aborted", abort.URL, "stream error: stream ID 1; INTERNAL_ERROR; received from peer"},
		// 0x3 RST_STREAM, code 1 PROTOCOL_ERROR.
		{"RST_STREAM PROTOCOL_ERROR", rawH2Worker(t, abort, 0x3, 1, []byte{0, 0, 0, 1}), "stream error: stream ID 1; PROTOCOL_ERROR; received from peer"},
		// 0x7 GOAWAY, last stream 0, code 1 PROTOCOL_ERROR.
		{"GOAWAY PROTOCOL_ERROR", rawH2Worker(t, abort, 0x7, 0, []byte{0, 0, 0, 0, 0, 0, 0, 1}), "received GOAWAY from server ErrCode:PROTOCOL_ERROR"},
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

// rawH2Worker is a Worker speaking HTTP/2 frame by frame, with the
// certificate of srv: it answers the client's first request with one
// frame of type typ on stream (its payload given), which net/http's
// server never sends in place of an answer.
func rawH2Worker(t *testing.T, srv *httptest.Server, typ byte, stream uint32, payload []byte) string {
	t.Helper()
	return rawH2WorkerBytes(t, srv, h2Frame(typ, 0, stream, payload), false)
}

// h2Frame is one HTTP/2 frame.
func h2Frame(typ, flags byte, stream uint32, payload []byte) []byte {
	n := len(payload)
	b := []byte{byte(n >> 16), byte(n >> 8), byte(n), typ, flags, byte(stream >> 24), byte(stream >> 16), byte(stream >> 8), byte(stream)}
	return append(b, payload...)
}

// rawH2WorkerBytes is rawH2Worker answering with the bytes raw, then
// hanging up when hangUp is set.
func rawH2WorkerBytes(t *testing.T, srv *httptest.Server, raw []byte, hangUp bool) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: srv.TLS.Certificates, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	frame := h2Frame
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := io.ReadFull(br, make([]byte, len("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))); err != nil {
					return
				}
				// An empty SETTINGS, then read frames until the first
				// request's HEADERS ends (END_HEADERS, 0x4).
				if _, err := c.Write(frame(0x4, 0, 0, nil)); err != nil {
					return
				}
				for {
					var h [9]byte
					if _, err := io.ReadFull(br, h[:]); err != nil {
						return
					}
					if _, err := io.ReadFull(br, make([]byte, int(h[0])<<16|int(h[1])<<8|int(h[2]))); err != nil {
						return
					}
					if h[3] == 0x4 && h[4]&0x1 == 0 { // the client's SETTINGS: acknowledged
						if _, err := c.Write(frame(0x4, 0x1, 0, nil)); err != nil {
							return
						}
					}
					if (h[3] == 0x1 || h[3] == 0x9) && h[4]&0x4 != 0 {
						break
					}
				}
				if _, err := c.Write(raw); err != nil || hangUp {
					return
				}
				_, _ = io.Copy(io.Discard, br) // until the client hangs up
			}()
		}
	}()
	return "https://" + ln.Addr().String()
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
	goodIn := make(chan struct{})
	var goods atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case strings.Contains(string(body), `"op":"ready"`):
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true,"result":{"ok":true,"preinstalled":[]}}`)
			return
		case strings.Contains(string(body), "/bad"):
			for i := 0; i < 2<<10; i++ {
				w.Header().Add("X-Pad", strings.Repeat(string(rune('a'+i%26)), 1000+i))
			}
		case strings.Contains(string(body), "/good") && goods.Add(1) == 1:
			// Waits, on the kept-alive connection, until the client
			// hangs up on it.
			close(goodIn)
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"result":"x"}`)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	sb := box(t, newClient(t, srv.URL, "use", func(o *sc.Options) { o.HTTPClient = h2Client(srv) }), "job-1")
	if _, _, err := sb.ReadFile(ctx(t), "/warm"); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		text string
		err  error
	}
	good := make(chan answer, 1)
	go func() {
		text, _, err := sb.ReadFile(ctx(t), "/good")
		good <- answer{text, err}
	}()
	<-goodIn
	_, _, err := sb.ReadFile(ctx(t), "/bad")
	var ce *sc.Error
	if !errors.As(err, &ce) || ce.Code != sc.CodeBadResponse {
		t.Fatalf("the broken answer: err = %v, want %s", err, sc.CodeBadResponse)
	}
	a := <-good
	if a.err != nil {
		// net/http can hand the retry the dying connection and let its
		// answer start there, whose body then fails with the same
		// connection error: a failure to read the answer (E_TRANSPORT,
		// retryable by the caller), but never the broken answer's blame.
		if errors.As(a.err, &ce) && ce.Code == sc.CodeTransport {
			return
		}
		t.Fatalf("the read beside it: err = %v; want it retried on a new connection (or, when its retry met the dying connection, %s)", a.err, sc.CodeTransport)
	}
	if a.text != "x" {
		t.Fatalf("the read beside it: %q, want x", a.text)
	}
	// Twice at least: the first attempt dies with the connection. A retry
	// can still be handed the broken connection before the transport has
	// marked it dead, and is then retried again, within the attempts.
	if n := goods.Load(); n < 2 || n > 4 {
		t.Fatalf("the read beside it was sent %d times, want 2 to 4 (the default MaxAttempts)", n)
	}
}

// TestCutHTTP2AnswersStayTransport: a Worker (or a proxy before it) that
// hangs up in the middle of an answer's header block, between its frames
// or inside one, is a failure to get the answer, E_TRANSPORT "cannot
// reach" (and a read is retried), not the broken frames of
// TestAnswerHeadersAreBoundedOverHTTP2: net/http reads those as an
// unexpected EOF, not as a connection's PROTOCOL_ERROR.
func TestCutHTTP2AnswersStayTransport(t *testing.T) {
	certs := httptest.NewUnstartedServer(http.NotFoundHandler())
	certs.EnableHTTP2 = true
	certs.StartTLS()
	defer certs.Close()
	// HEADERS on stream 1 without END_HEADERS: ":status: 200" (HPACK
	// static index 8), then a field that the CONTINUATION never finishes.
	headers := h2Frame(0x1, 0, 1, []byte{0x88, 0x40, 0x05, 'x', '-', 'p', 'a', 'd'})
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"between frames", headers},
		{"inside a frame", append(headers, h2Frame(0x9, 0x4, 1, []byte{0x03, 'a', 'b', 'c'})[:11]...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := rawH2WorkerBytes(t, certs, tc.raw, true)
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
	execIn := make(chan struct{})
	var execs atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case strings.Contains(string(body), `"op":"ready"`):
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true,"result":{"ok":true,"preinstalled":[]}}`)
			return
		case strings.Contains(string(body), `"op":"exec"`):
			// Runs, on the kept-alive connection, until the client hangs
			// up on it, without answering.
			if execs.Add(1) == 1 {
				close(execIn)
			}
			<-r.Context().Done()
			return
		case strings.Contains(string(body), "/bad"):
			for i := 0; i < 2<<10; i++ {
				w.Header().Add("X-Pad", strings.Repeat(string(rune('a'+i%26)), 1000+i))
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"result":"x"}`)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	sb := box(t, newClient(t, srv.URL, "use", func(o *sc.Options) { o.HTTPClient = h2Client(srv) }), "job-1")
	if _, _, err := sb.ReadFile(ctx(t), "/warm"); err != nil {
		t.Fatal(err)
	}
	execErr := make(chan error, 1)
	go func() {
		_, err := sb.Exec(ctx(t), "make deploy", sc.ExecOptions{})
		execErr <- err
	}()
	<-execIn
	_, _, err := sb.ReadFile(ctx(t), "/bad")
	var ce *sc.Error
	if !errors.As(err, &ce) || ce.Code != sc.CodeBadResponse || !strings.Contains(ce.Error(), "connection error: PROTOCOL_ERROR") {
		t.Fatalf("the broken answer: err = %v, want %s", err, sc.CodeBadResponse)
	}
	err = <-execErr
	if !errors.As(err, &ce) || ce.Code != sc.CodeTransport || !ce.OutcomeUnknown || !strings.Contains(ce.Message, "may or may not have run") || !strings.Contains(ce.Message, srv.URL) || !strings.HasSuffix(ce.Error(), "connection error: PROTOCOL_ERROR") {
		t.Fatalf("the exec beside it: err = %v, want %s saying it may or may not have run", err, sc.CodeTransport)
	}
	if n := execs.Load(); n != 1 {
		t.Fatalf("the exec was sent %d times, want once", n)
	}
}
