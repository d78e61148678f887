//go:build unix

package forward_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/nimbus-sh/nimbus/internal/testh2"
	"github.com/nimbus-sh/nimbus/pkg/forward"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// TestAnswerHeadersAreBounded: the forward reads at most
// MaxResponseHeaderBytes of the Worker's answer headers, so that a broken
// or hostile Worker cannot make it hold megabytes per request (net/http's
// default is 10 MiB, for each of the requests a page makes at once). Past
// the bound the local client gets a 502 and OnError an E_FORWARD_UPSTREAM
// that says what happened, not that the Worker cannot be reached. The
// Worker here sends headers of twice the bound, or headers without end.
func TestAnswerHeadersAreBounded(t *testing.T) {
	for _, tc := range []struct {
		name    string
		endless bool
	}{{"twice the bound", false}, {"endless", true}} {
		t.Run(tc.name, func(t *testing.T) {
			worker := testh2.RawHTTP1(t, func(c net.Conn) {
				w := bufio.NewWriter(c)
				_, _ = io.WriteString(w, "HTTP/1.1 200 OK\r\n")
				line := "X-Pad: " + strings.Repeat("a", 1000) + "\r\n"
				for n := 0; tc.endless || n < 2*forward.MaxResponseHeaderBytes; n += len(line) {
					if _, err := io.WriteString(w, line); err != nil {
						return // the forward hung up
					}
				}
				_, _ = io.WriteString(w, "Content-Length: 2\r\n\r\nok")
				_ = w.Flush()
			})
			e := badGateway(t, forward.Options{Endpoint: worker}, "headers of more than 1 MiB")
			if strings.Contains(e.Error(), "cannot reach") {
				t.Fatalf("reported %v", e)
			}
		})
	}
}

// TestEndlessInformationalAnswersAreBounded: net/http's ReverseProxy
// relays each 1xx answer (103 Early Hints) to the local client through a
// trace hook, and with a hook set the transport puts no bound on how many
// it reads: a Worker sending 1xx answers for ever held the request, and
// its goroutine and connection, for as long as the local client waited.
// They count against MaxResponseHeaderBytes, as the final answer's
// headers do: past it the local client gets a 502 and OnError an
// E_FORWARD_UPSTREAM saying so.
func TestEndlessInformationalAnswersAreBounded(t *testing.T) {
	worker := testh2.RawHTTP1(t, func(c net.Conn) {
		w := bufio.NewWriter(c)
		// 100 KiB each: the byte bound trips at the 11th, before the count.
		hint := "HTTP/1.1 103 Early Hints\r\nLink: </" + strings.Repeat("a", 100<<10) + ".css>; rel=preload; as=style\r\n\r\n"
		for {
			if _, err := io.WriteString(w, hint); err != nil {
				return // the forward hung up
			}
		}
	})
	e := badGateway(t, forward.Options{Endpoint: worker}, "headers of more than 1 MiB")
	if strings.Contains(e.Error(), "cannot reach") {
		t.Fatalf("reported %v", e)
	}
}

// TestEndlessInformationalAnswersOverHTTP2: over HTTP/2 (a Worker behind
// https) the transport reports the bound on 1xx answers as a stream's
// PROTOCOL_ERROR whose cause it keeps only as text; the forward still
// says that the headers were too large, not that the Worker cannot be
// reached. The Worker here is Go's HTTP/2 server sending 103 Early Hints
// until the forward resets the stream.
func TestEndlessInformationalAnswersOverHTTP2(t *testing.T) {
	srv := testh2.Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for r.Context().Err() == nil {
			w.Header().Set("Link", "</app.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
		}
	}))
	tr := forward.NewTransport(0)
	tr.TLSClientConfig = testh2.TLSConfig(srv)
	e := badGateway(t, forward.Options{Endpoint: srv.URL, Transport: tr}, "more than 16 informational (1xx) answers")
	if !strings.Contains(e.Error(), "stream error") {
		t.Fatalf("reported %v", e)
	}
}

// TestAnswerHeadersAreBoundedOverHTTP2: over HTTP/2 (a Worker behind
// https) net/http reports final answer headers over the bound as a
// stream's PROTOCOL_ERROR naming the limit when their encoded block ended
// in the frame that passed it (here the same field again and again, one
// byte each in HPACK), as the connection's PROTOCOL_ERROR when it goes on
// in further frames, or its COMPRESSION_ERROR for one field over the
// bound: the forward says the headers were too large (with the other
// faults net/http reports the same way in the last two), as over HTTP/1.1,
// not that the Worker cannot be reached. The Worker is Go's HTTP/2
// server; TestStreamResetsOverHTTP2StayTransport in pkg/sandboxclient
// keeps a reset stream a failure to reach it.
func TestAnswerHeadersAreBoundedOverHTTP2(t *testing.T) {
	for _, tc := range []struct {
		name string
		pad  func(h http.Header)
		want string
	}{
		{"the same field", func(h http.Header) { testh2.PadSameField(h, 2*forward.MaxResponseHeaderBytes) }, "headers of more than 1 MiB"},
		{"fields in many frames", testh2.PadManyFrames, "headers of more than 1 MiB or with frames that break HTTP/2"},
		{"one field", func(h http.Header) { testh2.PadOneField(h, 2*forward.MaxResponseHeaderBytes) }, "headers of more than 1 MiB or with frames that break HTTP/2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testh2.Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tc.pad(w.Header())
				_, _ = io.WriteString(w, "ok")
			}))
			tr := forward.NewTransport(0)
			tr.TLSClientConfig = testh2.TLSConfig(srv)
			e := badGateway(t, forward.Options{Endpoint: srv.URL, Transport: tr}, tc.want)
			// The stream error names the bound: no word of other faults.
			if strings.Contains(e.Error(), "cannot reach") || tc.name == "the same field" && strings.Contains(e.Error(), "break HTTP/2") {
				t.Fatalf("reported %v", e)
			}
		})
	}
}

// TestStreamResetOverHTTP2IsUnreachable: a stream the Worker resets (its
// handler aborted) is still reported as a Worker the forward cannot
// reach, unlike the PROTOCOL_ERRORs of TestAnswerHeadersAreBoundedOverHTTP2.
func TestStreamResetOverHTTP2IsUnreachable(t *testing.T) {
	srv := testh2.Server(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	tr := forward.NewTransport(0)
	tr.TLSClientConfig = testh2.TLSConfig(srv)
	e := badGateway(t, forward.Options{Endpoint: srv.URL, Transport: tr}, "cannot reach "+srv.URL)
	if !strings.Contains(e.Error(), "INTERNAL_ERROR; received from peer") {
		t.Fatalf("reported %v", e)
	}
}

// TestInformationalAnswersAreCounted: the Proxy's trace hook sees a 1xx
// answer's header fields but not its status line's text, which the
// transport reads too (up to MaxResponseHeaderBytes per answer, its count
// starting again after each): a Worker sending 60 KiB of status text in
// each 103 made the forward read without end, 256 MiB in the review's
// run. The count of 1xx answers ends it.
func TestInformationalAnswersAreCounted(t *testing.T) {
	written := make(chan int, 1)
	worker := testh2.RawHTTP1(t, func(c net.Conn) {
		n := 0
		defer func() { written <- n }()
		hint := "HTTP/1.1 103 " + strings.Repeat("x", 60<<10) + "\r\n\r\n"
		// 4,096 answers (240 MiB) if nothing stops them; then the
		// connection closes, which the old code reported as "cannot reach".
		for ; n < 4096; n++ {
			if _, err := io.WriteString(c, hint); err != nil {
				return // the forward hung up
			}
		}
	})
	badGateway(t, forward.Options{Endpoint: worker}, "more than 16 informational (1xx) answers")
	if n := <-written; n >= 4096 {
		t.Fatalf("the Worker wrote all %d answers", n)
	}
}

// badGateway sends GET / through a forward for sandbox job-1 port 3000
// with o, and checks that the local client gets a 502 saying want and that
// OnError got one E_FORWARD_UPSTREAM saying it too, which it returns.
func badGateway(t *testing.T, o forward.Options, want string) *sc.Error {
	t.Helper()
	var mu sync.Mutex
	var reported []error
	o.SandboxID, o.Port = "job-1", 3000
	o.OnError = func(_ *http.Request, err error) { mu.Lock(); reported = append(reported, err); mu.Unlock() }
	local := forwardTo(t, o)
	req, _ := http.NewRequestWithContext(testCtx(t), http.MethodGet, local+"/", nil)
	resp, body := do(t, req)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, want) {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	mu.Lock()
	defer mu.Unlock()
	var e *sc.Error
	if len(reported) != 1 || !errors.As(reported[0], &e) || e.Code != forward.CodeUpstream || !strings.Contains(e.Error(), want) {
		t.Fatalf("reported %v", reported)
	}
	return e
}
