package sandboxclient_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
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
