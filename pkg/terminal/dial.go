package terminal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/nimbus-sh/nimbus/internal/retryafter"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// dialer opens the sockets of one session.
type dialer struct {
	o      *Options
	base   *url.URL // the endpoint with a ws or wss scheme
	client *http.Client
}

func newDialer(o *Options) (*dialer, error) {
	if !sandboxclient.ValidID(o.SessionID) {
		return nil, &Error{Code: CodeInvalidArgument, Message: "session id " + strconv.Quote(o.SessionID) + " is not valid: use 1 to 128 characters from A-Z a-z 0-9 . _ -"}
	}
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(o.Endpoint), "/"))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, &Error{Code: CodeInvalidArgument, Message: "endpoint must be an http(s) URL, got " + strconv.Quote(sandboxclient.RedactEndpoint(o.Endpoint))}
	}
	if u.Scheme == "http" {
		u.Scheme = "ws"
	} else {
		u.Scheme = "wss"
	}
	u.RawQuery, u.Fragment = "", ""
	hc := http.DefaultClient
	if o.HTTPClient != nil {
		hc = o.HTTPClient
	}
	cp := *hc
	cp.Timeout = 0
	// A redirect would carry the Authorization header elsewhere, and no
	// Nimbus endpoint redirects an upgrade.
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &dialer{o: o, base: u, client: &cp}, nil
}

// url returns the socket URL of path under /s/<id>. Valid ids need no
// escaping.
func (d *dialer) url(path string) string {
	u := *d.base
	u.Path = strings.TrimRight(u.Path, "/") + "/s/" + d.o.SessionID + path
	u.RawPath = ""
	return u.String()
}

// dial opens the socket at path (/ws, /api/logs/<pid>) with a fresh token,
// and returns that token too: the socket's close reasons are redacted with
// it (readConn). It is never shown.
func (d *dialer) dial(ctx context.Context, path string) (*websocket.Conn, string, error) {
	h := http.Header{}
	var tok string
	if d.o.Tokens != nil {
		var err error
		tok, err = d.o.Tokens.Token(ctx, d.o.SessionID)
		if err != nil {
			return nil, "", err
		}
		if strings.ContainsAny(tok, "\r\n\x00") {
			return nil, "", &Error{Code: CodeInvalidArgument, Message: "the token contains control characters"}
		}
		if tok != "" {
			h.Set("Authorization", "Bearer "+tok)
		}
	}
	if d.o.UserAgent != "" {
		h.Set("User-Agent", d.o.UserAgent)
	}
	ctx, cancel := context.WithTimeout(ctx, d.o.HandshakeTimeout)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, d.url(path), &websocket.DialOptions{
		HTTPClient: d.client, HTTPHeader: h, CompressionMode: websocket.CompressionDisabled,
	})
	if err == nil {
		ws.SetReadLimit(ReadLimit)
		return ws, tok, nil
	}
	return nil, "", handshakeError(ctx, resp, err, d.o.HandshakeTimeout, tok)
}

// handshakeError classifies a failed upgrade; limit is the handshake's
// bound, tok the token sent, which the server's text quoted in the error
// never repeats.
func handshakeError(ctx context.Context, resp *http.Response, err error, limit time.Duration, tok string) error {
	if resp == nil || resp.StatusCode == 0 {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return &Error{Code: CodeUnavailable, Message: fmt.Sprintf("the server did not complete the WebSocket handshake within %s", limit), Err: err}
		}
		// An answer that is not HTTP fails here too, quoted by net/http.
		return &Error{Code: CodeUnavailable, Message: "cannot connect", Err: withoutToken(unwrapDial(err), tok)}
	}
	// Every text of the server that the error may quote, its status line
	// included, is passed through the one redaction rule: a proxy may
	// echo the token in any of them.
	var body []byte
	if resp.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, 1024))
		body = []byte(sandboxclient.RedactToken(string(body), tok))
	}
	status := printable([]byte(sandboxclient.RedactToken(resp.Status, tok)))
	var msg struct {
		Error string `json:"error"`
		Code  string `json:"code"`
		Hint  string `json:"hint"`
	}
	_ = json.Unmarshal(body, &msg)
	// Its strings once more: an escape inside one (\u0065, &#x65;) is text
	// only now.
	msg.Error = sandboxclient.RedactToken(msg.Error, tok)
	msg.Code = sandboxclient.RedactToken(msg.Code, tok)
	st := resp.StatusCode
	e := &Error{Status: st, Message: strings.TrimSpace(msg.Error)}
	switch {
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		e.Code = msg.Code
		if e.Code == "" {
			e.Code = sandboxclient.StatusCode(st)
		}
		if e.Message == "" {
			e.Message = http.StatusText(st)
		}
	case st == http.StatusConflict:
		e.Code = CodeBusy
		e.Message = "another terminal (probably a browser tab) is attached to this session"
		if msg.Error != "" {
			e.Message += " (server: " + msg.Error + ")"
		}
	case st >= 500:
		e.Code = CodeUnavailable
		e.Message = "the server answered " + status
		if msg.Error != "" {
			e.Message += ": " + msg.Error
		} else if t := printable(body); t != "" {
			e.Message += ": " + t
		}
		if st == http.StatusServiceUnavailable {
			if d, ok := retryafter.Parse(resp.Header.Get("Retry-After"), time.Now()); ok {
				// Kept as asked (cut at a day, which no wait comes near)
				// so that a refusal to wait can say how long the server
				// wanted.
				e.RetryAfter = min(d, 24*time.Hour)
			}
		}
	case st >= 300 && st < 400:
		e.Code = CodeHandshake
		// Only up to the path: a query (a login page's state, a token)
		// does not belong in an error message.
		loc, _, _ := strings.Cut(resp.Header.Get("Location"), "?")
		loc, _, _ = strings.Cut(loc, "#")
		loc = sandboxclient.RedactToken(loc, tok)
		e.Message = "the server redirected the terminal connection (" + status + " to " + strconv.Quote(loc) + "); is the endpoint right?"
	case st == http.StatusSwitchingProtocols:
		// Not a refusal: an upgrade answered without a WebSocket
		// handshake (a proxy that mangles headers, another protocol).
		e.Code = CodeHandshake
		e.Message = "the server answered the terminal's upgrade with " + status + " but not a WebSocket handshake: " +
			sandboxclient.RedactToken(strings.TrimPrefix(err.Error(), "failed to WebSocket dial: "), tok)
	case st < 300:
		e.Code = CodeHandshake
		e.Message = "the server answered the terminal's upgrade with " + status + ", not 101 Switching Protocols: it is not a WebSocket endpoint"
		if t := printable(body); t != "" {
			e.Message += ": " + t
		}
	default:
		e.Code = CodeHandshake
		e.Message = "the server refused the terminal connection: " + status
		if t := printable(body); t != "" {
			e.Message += ": " + t
		}
	}
	return e
}

// printable returns the start of a body as one safe line.
func printable(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return ' '
		}
		return r
	}, string(b))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// withoutToken is err without tok in its text: net/http quotes what a
// server sent where it could not read it as HTTP (a status line, a header
// line), and the server may echo the token there. err is kept as it is
// when its text holds none of it.
func withoutToken(err error, tok string) error {
	text := err.Error()
	if redacted := sandboxclient.RedactToken(text, tok); redacted != text {
		return errors.New(redacted)
	}
	return err
}

// unwrapDial drops coder/websocket's "failed to WebSocket dial:" prefix,
// keeping the network error.
func unwrapDial(err error) error {
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
		err = u
		if _, ok := u.(interface{ Timeout() bool }); ok {
			break
		}
	}
	return err
}

// retryable reports whether a failed attempt may succeed later, and
// whether it is the 409 of another terminal.
func retryable(err error) (retry, busy bool) {
	var e *Error
	if !errors.As(err, &e) {
		return false, false
	}
	switch e.Code {
	case CodeBusy:
		return true, true
	case CodeUnavailable:
		return true, false
	}
	return false, false
}
