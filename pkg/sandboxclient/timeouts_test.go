package sandboxclient_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/internal/stall"
	"github.com/nimbus-sh/nimbus/internal/testh2"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
)

// withTimeout sets a short HTTP timeout.
func withTimeout(d time.Duration) func(*sc.Options) {
	return func(o *sc.Options) { o.HTTPTimeout = d }
}

// timeoutErr checks err is the HTTP timeout naming the endpoint and the
// phase, and not a context error (which the CLI maps to 124 or 130).
func timeoutErr(t *testing.T, err error, endpoint, phase string) {
	t.Helper()
	var ce *sc.Error
	if !errors.As(err, &ce) || ce.Code != sc.CodeHTTPTimeout {
		t.Fatalf("err = %v, want %s", err, sc.CodeHTTPTimeout)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		t.Fatalf("err %v matches a context error", err)
	}
	if !strings.Contains(ce.Message, "HTTP timeout") || !strings.Contains(ce.Message, endpoint) || !strings.Contains(ce.Message, phase) {
		t.Fatalf("message %q lacks the timeout, %s or %q", ce.Message, endpoint, phase)
	}
}

// hang blocks until the client gives up or the test ends (t.Context is
// done before the server's Close waits for its handlers).
func hang(t *testing.T) opHandler {
	return func(w http.ResponseWriter, r *http.Request, _ []json.RawMessage) {
		select {
		case <-t.Context().Done():
		case <-r.Context().Done():
		}
	}
}

// A server that reads the request and never answers: the call fails after
// the HTTP timeout instead of hanging CI.
func TestHTTPTimeoutWaitingForHeaders(t *testing.T) {
	srv := hostile(t, map[string]opHandler{"readFile": hang(t), "stat": hang(t)})
	sb := box(t, newClient(t, srv.URL, "use", withTimeout(200*time.Millisecond)), "job-1")
	_, _, err := sb.ReadFile(ctx(t), "/x")
	timeoutErr(t, err, srv.URL, "no answer from")
	if !strings.Contains(err.Error(), "200ms") {
		t.Fatalf("%v does not name the limit", err)
	}
	// Safe ops are not retried after a timeout: one wait, not four.
	start := time.Now()
	_, err = sb.Stat(ctx(t), "/x")
	timeoutErr(t, err, srv.URL, "no answer from")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

// ready may install runtimes before it answers: it waits SlowOpFactor
// times the HTTP timeout, then fails the same way. The timeouts are long
// enough for connecting to and writing to the local server, which the
// same timeout bounds: with 100 ms a loaded machine failed the call before
// it was sent ("cannot connect to ... within 100ms", "stopped reading the
// request for 100ms").
func TestHTTPTimeoutSlowOps(t *testing.T) {
	slow := func(d time.Duration) opHandler {
		return func(w http.ResponseWriter, r *http.Request, _ []json.RawMessage) {
			time.Sleep(d)
			jsonAnswer(`{"ok":true,"result":{"ok":true,"preinstalled":[]}}`)(w, r, nil)
		}
	}
	srv := hostile(t, map[string]opHandler{"ready": slow(1600 * time.Millisecond)})
	sb := box(t, newClient(t, srv.URL, "use", withTimeout(800*time.Millisecond)), "job-1")
	if _, err := sb.Ready(ctx(t)); err != nil {
		t.Fatalf("a ready within 4x the timeout failed: %v", err)
	}
	srv = hostile(t, map[string]opHandler{"ready": hang(t)})
	sb = box(t, newClient(t, srv.URL, "use", withTimeout(500*time.Millisecond)), "job-1")
	_, err := sb.Ready(ctx(t))
	timeoutErr(t, err, srv.URL, "within 2s")
}

// A buffered command may run as long as its own timeout (plus the HTTP
// timeout), and without a timeout as long as it likes.
func TestHTTPTimeoutBufferedCommands(t *testing.T) {
	answer := `{"ok":true,"result":{"command":"x","exitCode":0,"success":true,"duration":1,"timestamp":1,"stdout":"done","stderr":""}}`
	srv := hostile(t, map[string]opHandler{
		"exec": func(w http.ResponseWriter, r *http.Request, _ []json.RawMessage) {
			time.Sleep(time.Second)
			jsonAnswer(answer)(w, r, nil)
		},
	})
	sb := box(t, newClient(t, srv.URL, "use", withTimeout(300*time.Millisecond)), "job-1")
	if r, err := sb.Exec(ctx(t), "x", sc.ExecOptions{}); err != nil || r.Stdout != "done" {
		t.Fatalf("no timeout: %+v %v", r, err)
	}
	if r, err := sb.Exec(ctx(t), "x", sc.ExecOptions{Timeout: 2 * time.Second}); err != nil || r.Stdout != "done" {
		t.Fatalf("timeout 2s: %+v %v", r, err)
	}
	_, err := sb.Exec(ctx(t), "x", sc.ExecOptions{Timeout: 100 * time.Millisecond})
	timeoutErr(t, err, srv.URL, "within 400ms")
}

// Once its headers arrived, a streamed exec may stay silent for much
// longer than the HTTP timeout (a build that prints nothing for an hour).
func TestHTTPTimeoutStreamMayBeSilent(t *testing.T) {
	srv := hostile(t, map[string]opHandler{
		"execStream": func(w http.ResponseWriter, r *http.Request, _ []json.RawMessage) {
			w.Header().Set("Content-Type", "application/vnd.nimbus.exec-stream")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			time.Sleep(3 * time.Second)
			out := []byte("late\n")
			exit := []byte(`{"command":"x","exitCode":0,"success":true,"duration":3000,"timestamp":1}`)
			w.Write(append([]byte{1, 0, 0, 0, byte(len(out))}, out...))
			w.Write(append([]byte{3, 0, 0, 0, byte(len(exit))}, exit...))
		},
	})
	sb := box(t, newClient(t, srv.URL, "use", withTimeout(2*time.Second)), "job-1")
	var out bytes.Buffer
	r, err := sb.Run(ctx(t), "x", sc.ExecOptions{}, &out, io.Discard)
	if err != nil || r.ExitCode != 0 || out.String() != "late\n" {
		t.Fatalf("%+v %v %q", r, err, out.String())
	}
}

// stalledJSON answers the start of a JSON body, then sends nothing more
// until the client gives up or the test ends.
func stalledJSON(t *testing.T, start string) opHandler {
	return func(w http.ResponseWriter, r *http.Request, _ []json.RawMessage) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, start)
		w.(http.Flusher).Flush()
		select {
		case <-t.Context().Done():
		case <-r.Context().Done():
		}
	}
}

// A JSON answer that stops in the middle fails after the HTTP timeout.
func TestHTTPTimeoutStalledAnswer(t *testing.T) {
	srv := hostile(t, map[string]opHandler{
		"readFile": stalledJSON(t, `{"ok":true,"result":"abc`),
	})
	sb := box(t, newClient(t, srv.URL, "use", withTimeout(3*time.Second)), "job-1")
	_, _, err := sb.ReadFile(ctx(t), "/x")
	timeoutErr(t, err, srv.URL, "stalled")
}

// lateTrace reports the request written only once the answer is being
// read, as net/http's writer goroutine may on a loaded machine (the
// response can be read before the writer calls WroteRequest).
type lateTrace struct{ rt http.RoundTripper }

func (l lateTrace) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	trace := httptrace.ContextClientTrace(req.Context())
	resp.Body = &lateBody{ReadCloser: resp.Body, late: func() {
		if trace != nil && trace.WroteRequest != nil {
			trace.WroteRequest(httptrace.WroteRequestInfo{})
		}
	}}
	return resp, nil
}

// lateBody calls late at its second read: the answer has started to
// arrive and the read blocks on the rest.
type lateBody struct {
	io.ReadCloser
	reads int
	late  func()
}

func (b *lateBody) Read(p []byte) (int, error) {
	if b.reads++; b.reads == 2 {
		b.late()
	}
	return b.ReadCloser.Read(p)
}

// A request reported written after its answer arrived does not re-arm
// the wait for headers over the answer's own bound: a stalled answer is
// reported as stalled (this raced, and was seen under load).
func TestHTTPTimeoutLateWroteRequest(t *testing.T) {
	srv := hostile(t, map[string]opHandler{
		"readFile": stalledJSON(t, `{"ok":true,"result":"abc`),
	})
	hc := &http.Client{Transport: lateTrace{http.DefaultTransport}}
	sb := box(t, newClient(t, srv.URL, "use", withTimeout(2*time.Second), func(o *sc.Options) { o.HTTPClient = hc }), "job-1")
	_, _, err := sb.ReadFile(ctx(t), "/x")
	timeoutErr(t, err, srv.URL, "stalled")
}

// uploadServer answers ready, and hands any other request to upload with
// the head of its body already read.
func uploadServer(t *testing.T, upload http.HandlerFunc) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var head [512]byte
		io.ReadFull(r.Body, head[:])
		if bytes.Contains(head[:], []byte(`"op":"ready"`)) {
			jsonAnswer(`{"ok":true,"result":{"ok":true,"preinstalled":[]}}`)(w, r, nil)
			return
		}
		upload(w, r)
	}))
}

// A server that stops reading a big request body: the upload fails after
// the HTTP timeout.
func TestHTTPTimeoutStalledUpload(t *testing.T) {
	// Read the head of the body, then stop reading.
	srv := uploadServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-t.Context().Done():
		case <-r.Context().Done():
		}
	})
	t.Cleanup(srv.Close)
	sb := box(t, newClient(t, srv.URL, "use", withTimeout(3*time.Second)), "job-1")
	err := sb.WriteFile(ctx(t), "/home/user/big", make([]byte, 16<<20))
	timeoutErr(t, err, srv.URL, "stopped reading the request")
}

// A host that accepts TCP connections and never speaks TLS: the handshake
// is bounded.
func TestHTTPTimeoutTLSHandshake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	ep := "https://" + ln.Addr().String()
	sb := box(t, newClient(t, ep, "use", withTimeout(200*time.Millisecond)), "job-1")
	_, err = sb.Ready(ctx(t))
	timeoutErr(t, err, ep, "no TLS handshake with")
}

// A dial that times out (a black-holed address) is named as such.
func TestHTTPTimeoutConnect(t *testing.T) {
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			// What net.Dialer returns when its Timeout expires.
			d := net.Dialer{Timeout: time.Nanosecond}
			return d.DialContext(ctx, "tcp", "10.255.255.1:9")
		},
	}}
	sb := box(t, newClient(t, "http://10.255.255.1:9", "use", withTimeout(time.Second), func(o *sc.Options) { o.HTTPClient = hc }), "job-1")
	_, err := sb.Ready(ctx(t))
	timeoutErr(t, err, "http://10.255.255.1:9", "cannot connect to")
}

// A negative HTTPTimeout disables the bounds. (The bound that the same
// answer is too slow for is long enough for connecting to and writing to
// the local server, which it bounds too: 100 ms was not, on a loaded
// machine.)
func TestHTTPTimeoutDisabled(t *testing.T) {
	srv := hostile(t, map[string]opHandler{
		"readFile": func(w http.ResponseWriter, r *http.Request, _ []json.RawMessage) {
			select {
			case <-time.After(1500 * time.Millisecond):
			case <-r.Context().Done(): // the client gave up
				return
			}
			jsonAnswer(`{"ok":true,"result":"x"}`)(w, r, nil)
		},
	})
	sb := box(t, newClient(t, srv.URL, "use", withTimeout(-1)), "job-1")
	if s, ok, err := sb.ReadFile(ctx(t), "/x"); err != nil || !ok || s != "x" {
		t.Fatalf("%q %v %v", s, ok, err)
	}
	// The same answer is too slow for a 500ms bound.
	sb = box(t, newClient(t, srv.URL, "use", withTimeout(500*time.Millisecond)), "job-1")
	_, _, err := sb.ReadFile(ctx(t), "/x")
	timeoutErr(t, err, srv.URL, "no answer from")
}

// The per-exchange bookkeeping of the timeouts must not cost the
// connection: sequential calls reuse one keep-alive connection. net/http
// itself drops a connection, now and then, when its goroutine writing the
// request has not reported within 50 ms of the answer having been read to
// its end (maxWriteWaitBeforeConnReuse): on a loaded machine a call whose
// answer was read and closed like all the others then found no idle
// connection ("2 connections for 51 sequential calls, want 1", 3 runs in
// 30). A few such drops are allowed; a client that costs the connection
// on every call, or every other one, dials 26 to 51 times.
func TestCallsReuseTheConnection(t *testing.T) {
	srv := hostile(t, map[string]opHandler{"readFile": jsonAnswer(`{"ok":true,"result":"x"}`)})
	var conns atomic.Int32
	tr := http.DefaultTransport.(*http.Transport).Clone()
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conns.Add(1)
		return dial(ctx, network, addr)
	}
	sb := box(t, newClient(t, srv.URL, "use", func(o *sc.Options) { o.HTTPClient = &http.Client{Transport: tr} }), "job-1")
	for range 50 {
		if _, _, err := sb.ReadFile(ctx(t), "/x"); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n > 3 {
		t.Fatalf("%d connections for 51 sequential calls, want 1 (up to 3 for net/http's own drops)", n)
	}
}

// An execStream answered with a JSON body (a refusal, or a server that
// does not stream) is read under the HTTP timeout like any JSON answer.
func TestHTTPTimeoutJSONAnswerToExecStream(t *testing.T) {
	srv := hostile(t, map[string]opHandler{
		"execStream": stalledJSON(t, `{"ok":false,"error":"boo`),
	})
	sb := box(t, newClient(t, srv.URL, "use", withTimeout(3*time.Second)), "job-1")
	_, err := sb.Run(ctx(t), "true", sc.ExecOptions{}, io.Discard, io.Discard)
	timeoutErr(t, err, srv.URL, "stalled")
}

// parallelReads runs rounds of par reads at once against the real
// backend, over the client's own transport, and returns how many
// connections the server accepted. Each answer takes a millisecond, as
// over a network, so a round's calls are in flight together, and finish
// together (as a transfer's files and parts do).
func parallelReads(t testing.TB, par, rounds int) int32 {
	t.Helper()
	fake := newFake(t, sandboxtest.Options{NoRecord: true, Delay: map[string]time.Duration{"readFileBytes": time.Millisecond}})
	var conns atomic.Int32
	hs := httptest.NewUnstartedServer(fake.Config.Handler)
	hs.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	hs.Start()
	t.Cleanup(hs.Close)
	sb := box(t, newClient(t, hs.URL, "use"), "job-1")
	if err := sb.WriteFile(ctx(t), "/home/user/x", []byte("x")); err != nil {
		t.Fatal(err)
	}
	for range rounds {
		var wg sync.WaitGroup
		errs := make(chan error, par)
		for range par {
			wg.Go(func() {
				if _, _, err := sb.ReadFile(ctx(t), "/home/user/x"); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	return conns.Load()
}

// Transfers keep 8 requests in flight (files and parts): the client's own
// transport keeps that many connections idle between bursts, instead of
// net/http's default 2 (which closes the others when they finish together
// and dials again for the next burst, leaving sockets in TIME_WAIT).
func TestParallelCallsReuseConnections(t *testing.T) {
	const par, rounds = 8, 20
	if got := parallelReads(t, par, rounds); got > 2*par {
		t.Fatalf("%d connections for %d rounds of %d parallel calls, want at most %d", got, rounds, par, 2*par)
	}
}

// BenchmarkParallelReads reports the connections opened per call, in
// rounds of 8 calls in flight.
func BenchmarkParallelReads(b *testing.B) {
	const par = 8
	rounds := max(b.N/par, 1)
	b.ResetTimer()
	conns := parallelReads(b, par, rounds)
	b.ReportMetric(float64(conns)/float64(par*rounds), "conns/op")
}

// drip answers a JSON envelope that never ends, one byte every gap: each
// read returns something, so a bound on each read alone never fires.
func drip(t *testing.T, head string, gap time.Duration) opHandler {
	return func(w http.ResponseWriter, r *http.Request, _ []json.RawMessage) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, head)
		for {
			w.(http.Flusher).Flush()
			select {
			case <-t.Context().Done():
				return
			case <-r.Context().Done():
				return
			case <-time.After(gap):
			}
			io.WriteString(w, "A")
		}
	}
}

// A server that drips its answer (a byte at a time, never stalling long
// enough for the stall bound) fails once the answer arrives slower than
// the minimum rate over a whole HTTP timeout, instead of holding CI for as
// long as the 40 MiB answer limit takes at a byte a second.
func TestHTTPTimeoutDrippedAnswer(t *testing.T) {
	srv := hostile(t, map[string]opHandler{"readFile": drip(t, `{"ok":true,"result":"`, 10*time.Millisecond)})
	sb := box(t, newClient(t, srv.URL, "use", withTimeout(300*time.Millisecond)), "job-1")
	_, _, err := sb.ReadFile(ctx(t), "/x")
	timeoutErr(t, err, srv.URL, "stalled (less than 614 B arrived in 300ms)")
	// The bytes-streaming reads (readFileBytes, readRange) share the bound.
	srv = hostile(t, map[string]opHandler{
		"stat":          jsonAnswer(`{"ok":true,"result":{"type":"file","size":1048576,"mtime":0,"mode":33188}}`),
		"readFileBytes": drip(t, `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"`, 10*time.Millisecond),
	})
	sb = box(t, newClient(t, srv.URL, "use", withTimeout(300*time.Millisecond)), "job-1")
	_, err = sb.ReadFileTo(ctx(t), "/x", io.Discard)
	timeoutErr(t, err, srv.URL, "stalled (less than 614 B arrived in 300ms)")
}

// An answer that arrives slowly but above the minimum rate, with pauses
// shorter than the timeout, is read whole: pauses of a third of the
// timeout, at 5 times the minimum rate. (With a timeout of 300 ms and
// pauses of 100 ms, a loaded machine's scheduling alone made the answer
// "stalled".)
func TestHTTPTimeoutSlowAnswerAboveTheRate(t *testing.T) {
	const timeout, chunks = 1200 * time.Millisecond, 5
	pause := timeout / 3
	chunk := strings.Repeat("a", int(5*stall.MinBytes(pause, stall.MinRate)))
	srv := hostile(t, map[string]opHandler{"readFile": func(w http.ResponseWriter, r *http.Request, _ []json.RawMessage) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true,"result":"`)
		for range chunks {
			w.(http.Flusher).Flush()
			time.Sleep(pause)
			io.WriteString(w, chunk)
		}
		io.WriteString(w, `"}`)
	}})
	sb := box(t, newClient(t, srv.URL, "use", withTimeout(timeout)), "job-1")
	if s, ok, err := sb.ReadFile(ctx(t), "/x"); err != nil || !ok || len(s) != chunks*len(chunk) {
		t.Fatalf("%d bytes, %v, %v", len(s), ok, err)
	}
}

// dropSecond serves HTTP/1.1 by hand: the second request on each
// connection is read, then the connection is closed without an answer,
// as a Worker's edge does when it drops a keep-alive connection that sat
// idle (or a NAT forgot it) just as the client reused it. It counts the
// requests of each op.
func dropSecond(t *testing.T) (url string, ops func(op string) int) {
	var mu sync.Mutex
	seen := map[string]int{}
	addr := testh2.Listen(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for i := 0; ; i++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			var body struct {
				Op string `json:"op"`
			}
			json.NewDecoder(req.Body).Decode(&body)
			mu.Lock()
			seen[body.Op]++
			mu.Unlock()
			if i == 1 {
				return
			}
			answer := `{"ok":true,"result":{"ok":true,"preinstalled":[]}}`
			switch body.Op {
			case "stat":
				answer = `{"ok":true,"result":{"type":"file","size":4,"mtime":0,"mode":33188}}`
			case "exec":
				answer = `{"ok":true,"result":{"command":"x","exitCode":0,"success":true,"duration":1,"timestamp":1,"stdout":"","stderr":""}}`
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(answer), answer)
		}
	})
	return "http://" + addr, func(op string) int {
		mu.Lock()
		defer mu.Unlock()
		return seen[op]
	}
}

// A safe op sent on a kept-alive connection that the server closes
// without answering is retried on a new connection: it is the stale
// connection race every HTTP client meets, and safe ops may be repeated.
// An op that is not safe (exec) is never sent twice: it may have run.
func TestKeepAliveConnectionDroppedBetweenRequests(t *testing.T) {
	url, ops := dropSecond(t)
	sb := box(t, newClient(t, url, "use"), "job-1")
	if st, err := sb.Stat(ctx(t), "/x"); err != nil || st == nil || st.Size != 4 {
		t.Fatalf("stat: %+v %v", st, err)
	}
	if ops("stat") != 2 {
		t.Fatalf("stat sent %d times, want 2 (dropped, then retried)", ops("stat"))
	}

	url, ops = dropSecond(t)
	sb = box(t, newClient(t, url, "use"), "job-1")
	if _, err := sb.Exec(ctx(t), "x", sc.ExecOptions{}); codeOf(err) != sc.CodeTransport {
		t.Fatalf("exec: %v", err)
	}
	if ops("exec") != 1 {
		t.Fatalf("exec sent %d times", ops("exec"))
	}
}

// A command with a Timeout is bounded on the client too: a Worker that
// never reports the timeout (it dropped timeoutMs, or lost the command)
// makes Run, Exec and RunCode give up after the timeout plus a grace of
// 1 to 5 s, with E_TIMEOUT wrapping context.DeadlineExceeded, instead of
// waiting for a silent stream for ever. Every caller gets the bound: the
// CLI, the interactive shell, the MCP server.
func TestCommandTimeoutIsBoundedLocally(t *testing.T) {
	srv := sandboxtest.New(sandboxtest.Options{IgnoreTimeout: true})
	t.Cleanup(srv.Close)
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	for name, call := range map[string]func() error{
		"Run": func() error {
			_, err := sb.Run(ctx(t), "echo started; sleep 30", sc.ExecOptions{Timeout: 200 * time.Millisecond}, io.Discard, io.Discard)
			return err
		},
		"Exec": func() error {
			_, err := sb.Exec(ctx(t), "sleep 30", sc.ExecOptions{Timeout: 200 * time.Millisecond})
			return err
		},
		"RunCode": func() error {
			_, err := sb.RunCode(ctx(t), "sleep 30", sc.RunCodeOptions{Language: "shell", ExecOptions: sc.ExecOptions{Timeout: 200 * time.Millisecond}})
			return err
		},
	} {
		start := time.Now()
		err := call()
		if codeOf(err) != sc.CodeTimeout || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "200ms") {
			t.Fatalf("%s: %v", name, err)
		}
		if took := time.Since(start); took > 15*time.Second {
			t.Fatalf("%s took %v", name, took)
		}
	}
}

// A command with a short Timeout on a sandbox that is slow to start it (a
// cold start: here the server holds the command back 1.5 s, longer than
// the timeout and its grace of 1 s) gets the Worker's own report of the
// timeout, exit code 124, not the client's E_TIMEOUT: Run counts the
// timeout from when the stream started, as the Worker does.
func TestCommandTimeoutCountsFromTheStart(t *testing.T) {
	const hold = 1500 * time.Millisecond
	srv := sandboxtest.New(sandboxtest.Options{ExecDelay: hold})
	t.Cleanup(srv.Close)
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	timeout := 100 * time.Millisecond
	if hold <= timeout+sc.CommandGrace(timeout) {
		t.Fatal("the hold must outlast the client's bound counted from the request")
	}
	var stderr strings.Builder
	start := time.Now()
	r, err := sb.Run(ctx(t), "sleep 30", sc.ExecOptions{Timeout: timeout}, io.Discard, &stderr)
	if err != nil || r.ExitCode != 124 || !strings.Contains(stderr.String(), "command timed out after 100ms") {
		t.Fatalf("after %v: %+v %v %q", time.Since(start), r, err, stderr.String())
	}
}

// A server that reads a big request body a trickle at a time, never
// stopping, fails the upload too: the body is handed to the transport in
// pieces of up to 32 KiB, each bounded by the HTTP timeout, which holds
// an upload to about 1 KiB/s with the default 30s (here 1.6 kB/s against
// 3s).
func TestHTTPTimeoutDrippedUpload(t *testing.T) {
	srv := uploadServer(t, func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 16)
		for {
			select {
			case <-t.Context().Done():
				return
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			if _, err := r.Body.Read(buf); err != nil {
				return
			}
		}
	})
	t.Cleanup(srv.Close)
	sb := box(t, newClient(t, srv.URL, "use", withTimeout(3*time.Second)), "job-1")
	err := sb.WriteFile(ctx(t), "/home/user/big", make([]byte, 16<<20))
	timeoutErr(t, err, srv.URL, "stopped reading the request")
}

// Only failures before the request could reach a sandbox count as never
// reached: nimbus mcp then forgets the ledger entry of the fresh sandbox,
// and nimbus sandbox run gives no advice to destroy it.
func TestNeverReached(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	read := &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset")}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&sc.RemoteError{Op: "ready", Status: http.StatusUnauthorized, Code: "E_TOKEN_SIGNATURE"}, true},
		{&sc.RemoteError{Op: "ready", Status: http.StatusForbidden, Code: "E_SCOPE_MISSING"}, true},
		{&sc.RemoteError{Op: "ready", Status: http.StatusInternalServerError, Code: "E_NIMBUS_REMOTE_RPC"}, false},
		{&sc.Error{Code: sc.CodeAPINotEnabled, Status: http.StatusNotFound}, true},
		{&sc.Error{Code: sc.CodeTransport, Err: dial}, true},
		{&sc.Error{Code: sc.CodeTransport, Err: read}, false},
		{&sc.Error{Code: sc.CodeTransport, Err: errors.New("timeout awaiting response headers")}, false},
		// A timeout connecting sent nothing; one waiting for the answer
		// leaves the sandbox unconfirmed (the caller destroys it best-effort).
		{&sc.Error{Code: sc.CodeHTTPTimeout, Phase: "connect"}, true},
		{&sc.Error{Code: sc.CodeHTTPTimeout, Phase: "tls"}, true},
		{&sc.Error{Code: sc.CodeHTTPTimeout, Phase: "headers"}, false},
		{&sc.Error{Code: sc.CodeHTTPTimeout, Phase: "upload"}, false},
	} {
		if got := sc.NeverReached(c.err); got != c.want {
			t.Errorf("NeverReached(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// An exec stream whose frame stops half-way (or drips) while the
// connection stays open fails after the HTTP timeout: the Worker writes
// each frame whole, and TCP keepalive never notices a peer that is alive
// but sends nothing. Silence between frames stays unbounded
// (TestHTTPTimeoutStreamMayBeSilent).
func TestHTTPTimeoutStreamStopsMidFrame(t *testing.T) {
	for name, c := range map[string]struct {
		start []byte
		drip  bool
		phase string
	}{
		"payload stalls":  {start: []byte{1, 0, 0, 0, 10, 'a', 'b', 'c'}, phase: "stalled"},
		"header stalls":   {start: []byte{1, 0, 0}, phase: "stalled"},
		"exit stalls":     {start: append([]byte{3, 0, 0, 0, 60}, `{"command":"x","exitCode":0`...), phase: "stalled"},
		"big frame drips": {start: []byte{2, 0, 4, 0, 0}, drip: true, phase: "less than"},
	} {
		t.Run(name, func(t *testing.T) {
			srv := hostile(t, map[string]opHandler{
				"execStream": func(w http.ResponseWriter, r *http.Request, _ []json.RawMessage) {
					w.Header().Set("Content-Type", "application/vnd.nimbus.exec-stream")
					w.Write(c.start)
					w.(http.Flusher).Flush()
					for c.drip {
						// One byte at a time, each well within the
						// timeout: only the rate can tell.
						if _, err := w.Write([]byte{'x'}); err != nil {
							return
						}
						w.(http.Flusher).Flush()
						select {
						case <-t.Context().Done():
							return
						case <-r.Context().Done():
							return
						case <-time.After(10 * time.Millisecond):
						}
					}
					select {
					case <-t.Context().Done():
					case <-r.Context().Done():
					}
				},
			})
			sb := box(t, newClient(t, srv.URL, "use", withTimeout(2*time.Second)), "job-1")
			r, err := sb.Run(ctx(t), "x", sc.ExecOptions{}, io.Discard, io.Discard)
			if r != nil {
				t.Fatalf("result %+v from a stream that never ended", r)
			}
			timeoutErr(t, err, srv.URL, c.phase)
		})
	}
}

// The bound on a started frame is per frame: a command whose frames
// arrive split (each write holding the end of one frame and the start of
// the next, as a proxy may regroup them), pausing between writes, runs as
// long as it likes, although every read ends inside a frame.
func TestHTTPTimeoutStreamSplitFramesArePacedPerFrame(t *testing.T) {
	const frames = 60
	srv := hostile(t, map[string]opHandler{
		"execStream": func(w http.ResponseWriter, r *http.Request, _ []json.RawMessage) {
			w.Header().Set("Content-Type", "application/vnd.nimbus.exec-stream")
			header := []byte{1, 0, 0, 0, 6}
			w.Write(header)
			w.(http.Flusher).Flush()
			for i := range frames {
				select {
				case <-r.Context().Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
				next := header
				if i == frames-1 {
					exit := `{"command":"x","exitCode":0,"success":true,"duration":1,"timestamp":1}`
					next = append([]byte{3, 0, 0, 0, byte(len(exit))}, exit...)
				}
				w.Write(append([]byte("line.\n"), next...))
				w.(http.Flusher).Flush()
			}
		},
	})
	sb := box(t, newClient(t, srv.URL, "use", withTimeout(2*time.Second)), "job-1")
	var out bytes.Buffer
	r, err := sb.Run(ctx(t), "x", sc.ExecOptions{}, &out, io.Discard)
	if err != nil || r.ExitCode != 0 || out.String() != strings.Repeat("line.\n", frames) {
		t.Fatalf("%+v %v %q", r, err, out.String())
	}
}
