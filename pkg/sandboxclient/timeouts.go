package sandboxclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nimbus-sh/nimbus/internal/stall"
)

// DefaultHTTPTimeout bounds each phase of an exchange with the Worker that
// should be quick: connecting, the TLS handshake, a request body the
// server stops reading, waiting for the response headers, and a JSON
// answer that stops arriving or drips (see minProgress).
const DefaultHTTPTimeout = 30 * time.Second

// DefaultMaxWait is the longest a server's Retry-After (or a backoff) is
// waited out before an attempt is made again: a CI job must not sit for
// minutes on a busy server. pkg/terminal applies the same bound to the
// first connection of an attach, so that both clients of the Worker agree.
const DefaultMaxWait = 30 * time.Second

// SlowOpFactor scales the HTTP timeout for the headers of ops that do real
// work on the server before they answer (ready with preinstalls,
// installRuntime, ensureRuntimes): 2 minutes with the default timeout.
const SlowOpFactor = 4

// CodeHTTPTimeout: a phase of the exchange took longer than the HTTP
// timeout (the message says which phase and which endpoint).
const CodeHTTPTimeout = "E_HTTP_TIMEOUT"

// TCP keepalive probes: a streamed exec may be silent for hours once its
// headers arrived, so it has no idle timeout; these probes notice a peer
// that is gone (about a minute and a half after the last packet).
const (
	keepAliveIdle     = 30 * time.Second
	keepAliveInterval = 15 * time.Second
	keepAliveCount    = 4
)

// maxIdlePerHost is how many idle connections the client's own transport
// keeps to the Worker: file transfers keep 8 requests in flight (files
// and parts), and net/http's default of 2 would close the others each
// time a burst of them finishes together, dialing again for the next.
const maxIdlePerHost = 16

// MaxResponseHeaderBytes bounds the headers of a Worker's answer, 1xx
// answers before it included, that a Client built without an HTTPClient
// reads (pkg/forward uses the same bound): as much as a Go server accepts
// of a request's (http.DefaultMaxHeaderBytes). net/http's own default, 10
// MiB, let a broken or hostile Worker make each request hold that much.
// An answer over it fails with CodeBadResponse.
const MaxResponseHeaderBytes = 1 << 20

// newTransport is the transport of a Client built without an HTTPClient:
// http.DefaultTransport's settings plus dial and TLS handshake timeouts,
// TCP keepalive, idle connections for parallel transfers, and answer
// headers bounded by MaxResponseHeaderBytes.
func newTransport(timeout time.Duration) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = maxIdlePerHost
	t.MaxResponseHeaderBytes = MaxResponseHeaderBytes
	d := &net.Dialer{
		Timeout: max(timeout, 0),
		KeepAliveConfig: net.KeepAliveConfig{
			Enable: true, Idle: keepAliveIdle, Interval: keepAliveInterval, Count: keepAliveCount,
		},
	}
	t.DialContext = d.DialContext
	t.TLSHandshakeTimeout = max(timeout, 0)
	return t
}

// Timeout phases, as the error message words them.
const (
	phaseConnect = "connect"
	phaseTLS     = "tls"
	phaseUpload  = "upload"
	phaseHeaders = "headers"
	phaseBody    = "body"
	phaseSlow    = "slow"
)

// minProgress is how many bytes of an answer must arrive within each limit
// of waiting: stall.MinRate's share of it, the pace npm downloads and R2
// uploads keep too. At 2 KiB/s the largest answer (a 28 MiB read, 37 MiB
// of base64) still gets through on a 20 kbit/s link.
func minProgress(limit time.Duration) int64 {
	return stall.MinBytes(limit, stall.MinRate)
}

// timeoutError names the phase, the endpoint and the limit.
func (c *Client) timeoutError(phase string, d time.Duration) *Error {
	var msg string
	switch phase {
	case phaseConnect:
		msg = fmt.Sprintf("cannot connect to %s within %s", c.shown, d)
	case phaseTLS:
		msg = fmt.Sprintf("no TLS handshake with %s within %s", c.shown, d)
	case phaseUpload:
		msg = fmt.Sprintf("%s stopped reading the request for %s", c.shown, d)
	case phaseBody:
		msg = fmt.Sprintf("the answer from %s stalled for %s", c.shown, d)
	case phaseSlow:
		msg = fmt.Sprintf("the answer from %s stalled (less than %s arrived in %s)", c.shown, humanBytes(minProgress(d)), d)
	default:
		msg = fmt.Sprintf("no answer from %s within %s", c.shown, d)
	}
	return &Error{Code: CodeHTTPTimeout, Message: "HTTP timeout: " + msg, Phase: phase}
}

// transportTimeout classifies a transport error that is a timeout of the
// dialer, the TLS handshake or the caller's http.Client.
func (c *Client) transportTimeout(err error) *Error {
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		return nil
	}
	var oe *net.OpError
	switch {
	case errors.As(err, &oe) && oe.Op == "dial":
		return c.timeoutError(phaseConnect, c.timeout)
	case isTLSTimeout(err):
		return c.timeoutError(phaseTLS, c.timeout)
	}
	return c.timeoutError(phaseHeaders, c.timeout)
}

func isTLSTimeout(err error) bool {
	// net/http's handshake timeout error type is unexported.
	return strings.Contains(err.Error(), "TLS handshake timeout")
}

// watchdog cancels one exchange when a phase takes too long: a
// stall.Alarm armed phase by phase. It is not a stall.Watchdog, which has
// one period from the start of a transfer to its end: an exchange goes
// through phases with limits of their own (connect, TLS, upload, headers
// with the slow ops' longer wait, body), and a JSON answer's pace counts
// only the time spent blocked in Read (see watchedBody), so a consumer
// that is slow itself is never blamed on the server, where a Watchdog
// counts the time since its period started.
type watchdog struct {
	alarm *stall.Alarm

	mu       sync.Mutex
	answered bool
}

func newWatchdog(cancel context.CancelFunc) *watchdog {
	return &watchdog{alarm: stall.NewAlarm(cancel)}
}

// armRequest arms a phase of sending the request (upload, headers) unless
// the answer has arrived: the transport reports the request written from
// its writer goroutine, which may run after the response was read and the
// body's phase armed, and must not replace that bound.
func (w *watchdog) armRequest(phase string, d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.answered {
		return
	}
	w.alarm.Arm(phase, d, d)
}

// answer ends the request's phases for good: the response (or an error)
// is in.
func (w *watchdog) answer() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.answered = true
	w.alarm.Disarm()
}

// arm gives the current phase d to finish; d <= 0 means no bound.
func (w *watchdog) arm(phase string, d time.Duration) {
	w.alarm.Arm(phase, d, d)
}

// armFor is arm for a phase whose bound, as reported, is limit while what
// is left of it is d.
func (w *watchdog) armFor(phase string, d, limit time.Duration) {
	w.alarm.Arm(phase, d, limit)
}

// stop ends the bound of the current phase.
func (w *watchdog) stop() { w.alarm.Disarm() }

// expired returns the phase that ran out, if any.
func (w *watchdog) expired() (string, time.Duration) { return w.alarm.Fired() }

// progressReader re-arms the upload bound each time the transport takes
// more of the request body.
// It also counts the bytes handed to the transport, so that an answer
// that came before all of them is told apart (see attempt).
type progressReader struct {
	r     io.Reader
	wd    *watchdog
	limit time.Duration
	taken atomic.Int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	p.wd.armRequest(phaseUpload, p.limit)
	n, err := p.r.Read(b)
	p.taken.Add(int64(n))
	return n, err
}

// Close closes the body it reads, when that is a Closer: the transport
// closes a request's body once it is done with it, sent or not, and a
// body fed by a goroutine (writeFile's encoder, through a pipe) must be
// told that nothing reads it any more, or that goroutine waits for ever
// (a leak per failed upload in a long-lived process: nimbus mcp).
func (p *progressReader) Close() error {
	if c, ok := p.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// watchedBody bounds the reads of a JSON answer: a server that stops
// sending in the middle fails after the HTTP timeout, and one that drips
// it fails once minProgress(limit) bytes took longer than limit of
// waiting. Only the time blocked in Read counts, so a slow consumer is
// never blamed on the server. Closing it ends the exchange without
// cancelling it, so the connection can be reused.
type watchedBody struct {
	rc    io.ReadCloser
	c     *Client
	wd    *watchdog
	limit time.Duration
	done  func()

	pace   stall.Pace    // bytes of the current window, against minProgress(limit)
	waited time.Duration // time blocked in Read since the window opened
}

func newWatchedBody(rc io.ReadCloser, c *Client, wd *watchdog, limit time.Duration, done func()) watchedBody {
	return watchedBody{rc: rc, c: c, wd: wd, limit: limit, done: done, pace: stall.Pace{Min: minProgress(limit)}}
}

func (b *watchedBody) Read(p []byte) (int, error) {
	if b.limit <= 0 {
		return b.rc.Read(p)
	}
	window := b.pace.Started()
	if !window {
		b.wd.arm(phaseBody, b.limit)
	} else {
		// Some bytes came, too few so far: what is left of the window
		// must bring the rest.
		b.wd.armFor(phaseSlow, max(b.limit-b.waited, time.Nanosecond), b.limit)
	}
	start := time.Now()
	n, err := b.rc.Read(p)
	b.wd.stop()
	if window {
		b.waited += time.Since(start)
	}
	if b.pace.Add(n) {
		b.waited = 0
	}
	if err != nil && err != io.EOF {
		if phase, d := b.wd.expired(); phase != "" {
			return n, b.c.timeoutError(phase, d)
		}
	}
	return n, err
}

func (b *watchedBody) Close() error {
	err := b.rc.Close()
	b.wd.stop()
	b.done()
	return err
}

// streamBody is the body of an exec stream. Between frames it has no
// bound: the command may be silent for hours (TCP keepalive notices a
// peer that is gone). Inside a frame it is bounded as a JSON answer is
// (see watchedBody): the Worker writes each frame whole, so a frame that
// stops half-way, or drips, is a broken server or proxy, one that
// keepalive never notices because the peer still answers its probes.
// Closing it cancels the exchange (a stream closed early cancels the
// remote command).
type streamBody struct {
	watchedBody
	cancel func()
	mid    bool
}

// midFrame tells the body whether the decoder waits for the rest of a
// frame (true) or is at a frame boundary (false), where the pace of the
// next frame starts afresh.
func (b *streamBody) midFrame(mid bool) {
	b.mid = mid
	if !mid {
		b.pace.Reset()
		b.waited = 0
	}
}

func (b *streamBody) Read(p []byte) (int, error) {
	if !b.mid {
		return b.rc.Read(p)
	}
	return b.watchedBody.Read(p)
}

func (b *streamBody) Close() error {
	err := b.rc.Close()
	b.wd.stop()
	b.cancel()
	return err
}
