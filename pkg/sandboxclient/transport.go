package sandboxclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nimbus-sh/nimbus/internal/headerbound"
	"github.com/nimbus-sh/nimbus/internal/retryafter"
)

// Media types of the remote API.
const (
	mediaJSON   = "application/json"
	mediaStream = "application/vnd.nimbus.exec-stream"
)

// bodyFunc produces a fresh request body for each attempt, with its length
// (-1 when unknown).
type bodyFunc func() (io.Reader, int64, error)

// request describes one HTTP exchange with the Worker.
type request struct {
	method    string
	url       string
	sandboxID string
	accept    string
	header    http.Header
	body      bodyFunc
	// safe marks operations the spec lists as safe to retry.
	safe bool
	// wait bounds the wait for the response headers once the request is
	// sent: 0 means the client's HTTP timeout, negative means no bound
	// (a command without a timeout may run for hours).
	wait time.Duration
}

func staticBody(b []byte) bodyFunc {
	return func() (io.Reader, int64, error) { return bytes.NewReader(b), int64(len(b)), nil }
}

// send performs the exchange, retrying safe requests on 503 + Retry-After and
// on connection failures that happened before anything was written.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	var tok string
	if c.tokens != nil {
		t, err := c.tokens.Token(ctx, r.sandboxID)
		if err != nil {
			return nil, err
		}
		if strings.ContainsFunc(t, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			// Never sendable as a header; say so instead of a transport error.
			return nil, &Error{Code: CodeInvalidToken, Message: "the token contains a control character (a line break?); check the token file"}
		}
		tok = t
	}
	for attempt := 1; ; attempt++ {
		resp, retry, err := c.attempt(ctx, r, tok, attempt)
		if resp != nil {
			c.noteSuffix(resp.Header)
		}
		if err != nil || !retry {
			return resp, err
		}
	}
}

// attempt performs one exchange. retry asks for another attempt (after
// the wait, already slept).
func (c *Client) attempt(ctx context.Context, r request, tok string, attempt int) (resp *http.Response, retry bool, err error) {
	var body io.Reader
	n := int64(0)
	if r.body != nil {
		b, size, err := r.body()
		if err != nil {
			return nil, false, err
		}
		body, n = b, size
	}
	// The exchange's own context: the watchdog cancels it, and so does ctx
	// (through AfterFunc). It is not a child of ctx, so finishing an
	// answer normally needs no cancel: cancelling right after a body is
	// closed races the transport returning the connection to its pool
	// (the connection is then dropped, and the next call dials again).
	rctx, cancelExchange := context.WithCancel(context.WithoutCancel(ctx))
	stopFollowing := context.AfterFunc(ctx, cancelExchange)
	cancel := func() { stopFollowing(); cancelExchange() }
	done := func() { stopFollowing() }
	wd := newWatchdog(cancelExchange)
	limit := c.timeout
	wait := r.wait
	if wait == 0 {
		wait = limit
	}
	if limit < 0 {
		limit, wait = 0, 0
	}
	var wrote, reused atomic.Bool
	var use connUse
	tctx := httptrace.WithClientTrace(rctx, &httptrace.ClientTrace{
		// Connecting is bounded here too, phase by phase: the dialer and
		// the TLS handshake have their own timeouts, but the CONNECT
		// exchange with an HTTPS proxy (HTTPS_PROXY) has only net/http's
		// fixed minute, and a caller's HTTPClient may have none.
		GetConn: func(string) { wd.armRequest(phaseConnect, limit) },
		ConnectDone: func(_, _ string, err error) {
			if err == nil {
				wd.armRequest(phaseConnect, limit)
			}
		},
		TLSHandshakeStart: func() { wd.armRequest(phaseTLS, limit) },
		GotConn: func(info httptrace.GotConnInfo) {
			reused.Store(info.Reused)
			use.join(info.Conn)
			wd.armRequest(phaseUpload, limit)
		},
		WroteHeaders: func() { wrote.Store(true) },
		WroteRequest: func(httptrace.WroteRequestInfo) { wd.armRequest(phaseHeaders, wait) },
	})
	var pr *progressReader
	if body != nil {
		pr = &progressReader{r: body, wd: wd, limit: limit}
		body = pr
	}
	req, err := http.NewRequestWithContext(tctx, r.method, r.url, body)
	if err != nil {
		cancel()
		return nil, false, newError(CodeInvalidArgument, "cannot build request", err)
	}
	if body != nil && n >= 0 {
		req.ContentLength = n
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", mediaJSON)
	}
	if r.accept != "" {
		req.Header.Set("Accept", r.accept)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	resp, err = c.hc.Do(req)
	wd.answer()
	if err != nil {
		cancel()
		onBroken := use.saw(err)
		use.leave()
		if cerr := ctx.Err(); cerr != nil {
			return nil, false, cerr
		}
		if phase, d := wd.expired(); phase != "" {
			return nil, false, c.timeoutError(phase, d)
		}
		if te := c.transportTimeout(err); te != nil {
			return nil, false, te
		}
		if headerbound.Exceeded(err) {
			// The Worker answered, with what no Worker sends: trying
			// again would only read as much once more.
			// The limit is the transport's (a caller's HTTPClient has
			// its own), which the cause states over HTTP/1.1.
			return nil, false, &Error{Code: CodeBadResponse, Message: "the answer of " + c.shown + " had headers over the limit", Err: transportCause(err, tok)}
		}
		// A safe op is retried when nothing was sent, and when a kept-alive
		// connection died under it before any answer: the server (or a
		// NAT) dropped it as it was reused, the race every HTTP client
		// meets, and repeating a safe op is harmless. So is it when an
		// HTTP/2 connection broke with other requests on it (connshare.go):
		// the answer that broke it may be another's.
		shared := onBroken > 1
		retry := r.safe && (!wrote.Load() || reused.Load() || shared) && attempt < c.retry.MaxAttempts
		if headerbound.BrokenHTTP2(err) && !retry {
			// Over HTTP/2 most oversized headers end here, as do other
			// frames no server should send: net/http does not tell them
			// apart, and either way the Worker answered. It ends every
			// stream of the connection with that error, though, and says
			// not whose answer it was: only a request that was sent and
			// alone on the connection knows the answer was its own. Any
			// other did not see its answer: it failed in transport, and
			// one that was sent may or may not have run.
			if !wrote.Load() {
				return nil, false, &Error{Code: CodeTransport, Message: "the connection to " + c.shown + " broke before the request was sent (another answer on it had headers over the limit or frames that break HTTP/2)", Err: transportCause(err, tok)}
			}
			if shared {
				return nil, false, &Error{Code: CodeTransport, Message: "the connection to " + c.shown + " broke under the request (an answer on it, this request's or another's, had headers over the limit or frames that break HTTP/2): the request was sent and may or may not have run", Err: transportCause(err, tok), OutcomeUnknown: true}
			}
			return nil, false, &Error{Code: CodeBadResponse, Message: "the answer of " + c.shown + " had headers over the limit or frames that break HTTP/2", Err: transportCause(err, tok)}
		}
		if retry {
			wait := c.retry.DefaultWait
			if reused.Load() {
				wait = 0 // the connection was stale, not the server down
			}
			if werr := sleep(ctx, wait); werr != nil {
				return nil, false, werr
			}
			return nil, true, nil
		}
		return nil, false, &Error{Code: CodeTransport, Message: "cannot reach " + c.shown, Err: transportCause(err, tok)}
	}
	if pr != nil && n > 0 && success(resp.StatusCode) {
		if taken := pr.taken.Load(); taken < n {
			// A success before the transport was even given the whole
			// request: the server cannot have read it (its last bytes
			// are read from here before they are sent), so whatever it
			// stored or ran is not what was asked. An error answered
			// early (a 413, a 401) keeps its own message.
			drain(resp.Body)
			cancel()
			use.leave()
			return nil, false, &Error{Code: CodeBadResponse, Status: resp.StatusCode,
				Message: fmt.Sprintf("%s answered HTTP %d before it was sent the whole request (%d of %d bytes): it cannot have done what was asked", c.shown, resp.StatusCode, taken, n)}
		}
	}
	resp.Body = &connBody{ReadCloser: resp.Body, use: &use}
	if r.accept == mediaStream && resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), mediaStream) {
		// A stream may stay silent for as long as the command runs,
		// but not in the middle of a frame.
		resp.Body = &streamBody{watchedBody: newWatchedBody(resp.Body, c, wd, limit, done), cancel: cancel}
	} else {
		b := newWatchedBody(resp.Body, c, wd, limit, done)
		resp.Body = &b
	}
	if r.safe && attempt < c.retry.MaxAttempts {
		wait, ok := retryAfter(resp.Header, c.retry)
		if resp.StatusCode == http.StatusServiceUnavailable && ok || gatewayAnswer(resp) {
			// A 503 that says when to come back, or a gateway's error page
			// (the Worker never answered): try again, backing off.
			if !ok {
				wait = min(c.retry.DefaultWait<<(attempt-1), c.retry.MaxWait)
			}
			drain(resp.Body)
			if werr := sleep(ctx, wait); werr != nil {
				return nil, false, werr
			}
			return nil, true, nil
		}
	}
	return resp, false, nil
}

// transportCause is err, the failure of an exchange that carried tok, as
// the cause of an error: without its *url.Error (unwrapURLError), and
// without tok (RedactToken) where net/http quotes what the server sent
// that it could not read as HTTP (a status line, a header line). An
// error whose text holds none of the token is kept as it is.
func transportCause(err error, tok string) error {
	err = unwrapURLError(err)
	text := err.Error()
	if redacted := RedactToken(text, tok); redacted != text {
		return errors.New(redacted)
	}
	return err
}

// unwrapURLError strips *url.Error, whose text repeats the method and URL
// (and so could leak a query string).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// retryAfter reads Retry-After (internal/retryafter: delay-seconds or an
// HTTP date) capped at p.MaxWait. ok is false only when there is no header:
// a 503 that carries one, even one that does not parse, is the Worker's
// "come back later", so an unreadable value waits p.DefaultWait.
func retryAfter(h http.Header, p RetryPolicy) (time.Duration, bool) {
	v := h.Get("Retry-After")
	if strings.TrimSpace(v) == "" {
		return 0, false
	}
	d, ok := retryafter.Parse(v, time.Now())
	if !ok {
		d = p.DefaultWait
	}
	return min(d, p.MaxWait), true
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// drain reads a little of an abandoned body so the connection can be
// reused, then closes it.
func drain(b io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, b, 64<<10)
	_ = b.Close()
}

// countingReader counts bytes so an oversized answer can be told apart from
// a truncated one.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// notEnabled builds the error for a redirect where the API was expected:
// what a Worker without the remote API answers on /api/ paths.
func notEnabled(resp *http.Response, cause error) *Error {
	detail := fmt.Sprintf("HTTP %d", resp.StatusCode)
	if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode >= 300 && resp.StatusCode < 400 {
		// Only the path: a query could carry a token.
		loc, _, _ = strings.Cut(loc, "?")
		detail += " redirect to " + quote(withoutToken(loc, resp.Request))
	} else if ct := resp.Header.Get("Content-Type"); ct != "" {
		detail += ", " + sanitize(withoutToken(ct, resp.Request), 80)
	}
	return &Error{
		Code:    CodeAPINotEnabled,
		Status:  resp.StatusCode,
		Message: "remote API not enabled on this endpoint (or wrong --endpoint/--base-path): " + detail,
		Err:     cause,
	}
}

// decodeEnvelope reads a JSON envelope and decodes its result into dest
// (a pointer, or nil to discard). It always closes the body.
func (c *Client) decodeEnvelope(ctx context.Context, op string, resp *http.Response, dest any) error {
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return notEnabled(resp, nil)
	}
	hr := &headRecorder{r: resp.Body}
	cr := &countingReader{r: io.LimitReader(hr, maxJSONResponse+1)}
	env := envelope{Result: dest}
	var slot *resultSlot
	switch {
	case dest == nil:
		env.Result = &json.RawMessage{}
	case !nullableOp(op):
		slot = &resultSlot{dest: dest}
		env.Result = slot
	}
	err := json.NewDecoder(cr).Decode(&env)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if cr.n > maxJSONResponse {
			return &Error{Code: CodeBadResponse, Status: resp.StatusCode, Message: fmt.Sprintf("%s: answer exceeds %d bytes", op, maxJSONResponse)}
		}
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		var ce *Error
		switch {
		case env.OK != nil && *env.OK && !success(resp.StatusCode):
			return statusError(op, resp, &env)
		case errors.As(err, &ce):
			ce.Status = resp.StatusCode
			ce.Message = op + ": " + ce.Message
			return ce
		case hr.cut.cut:
			return cutShort(op, resp, hr.cut.n)
		case errors.As(err, &typ) && env.OK != nil && *env.OK:
			return &Error{Code: CodeBadResponse, Status: resp.StatusCode, Message: op + ": unexpected result shape", Err: err}
		case errors.As(err, &syn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &typ):
			return c.unexpectedAnswer(op, resp, hr.full())
		default:
			return &Error{Code: CodeTransport, Status: resp.StatusCode, Message: op + ": reading the answer failed", Err: err}
		}
	}
	if env.OK == nil {
		if env.Code != "" {
			return remoteError(op, resp, &env)
		}
		return c.unexpectedAnswer(op, resp, hr.full())
	}
	if !*env.OK {
		return remoteError(op, resp, &env)
	}
	if !success(resp.StatusCode) {
		return statusError(op, resp, &env)
	}
	if slot != nil && !slot.seen {
		return &Error{Code: CodeBadResponse, Status: resp.StatusCode, Message: op + `: the answer has no result ("ok":true without a "result" value)`}
	}
	return nil
}

// success reports a 2xx status: the only ones an answer may succeed with.
func success(status int) bool { return status >= 200 && status <= 299 }

// statusError is the error of an answer whose body says "ok":true under an
// error status. An error status is never a success, whatever the body
// says: a server (or a proxy) that failed must not pass for one that did
// the work. It is the error the status alone gives, as for an error answer
// without a code (docs/exit-codes.md: a 503 is retryable, a 500 a server
// fault, a 4xx the request's).
func statusError(op string, resp *http.Response, env *envelope) *RemoteError {
	if env.Error == "" && env.Message == "" {
		env.Error = fmt.Sprintf(`remote API error (HTTP %d, although the answer says "ok":true)`, resp.StatusCode)
	}
	return remoteError(op, resp, env)
}

// answeredBy is the host[:port] of the request resp answers, or "".
func answeredBy(resp *http.Response) string {
	if resp.Request == nil || resp.Request.URL == nil {
		return ""
	}
	return resp.Request.URL.Host
}

func remoteError(op string, resp *http.Response, env *envelope) *RemoteError {
	msg := env.Error
	if msg == "" {
		msg = env.Message
	}
	if msg == "" {
		msg = fmt.Sprintf("remote API error (HTTP %d)", resp.StatusCode)
	}
	re := &RemoteError{Op: op, Status: resp.StatusCode, Code: serverText(env.Code, resp.Request, maxServerCode), Message: serverText(msg, resp.Request, MaxServerText), Host: answeredBy(resp)}
	if resp.StatusCode == http.StatusServiceUnavailable {
		re.RetryAfter, _ = retryAfter(resp.Header, RetryPolicy{MaxWait: time.Hour, DefaultWait: 0})
	}
	return re
}
