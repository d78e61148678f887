//go:build unix

package terminal_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/nimbus-sh/nimbus/internal/tokenleak"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/terminal"
	"github.com/nimbus-sh/nimbus/pkg/terminal/frame"
)

// A server that sends a message beyond ReadLimit breaks the protocol:
// Attach fails with CodeProtocol and does not reconnect (a reconnection
// would only be sent the same replay again), instead of reporting a lost
// connection and redialling for the whole Reconnect window.
func TestHostileOversizedMessage(t *testing.T) {
	var accepted atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		accepted.Add(1)
		// Streamed in pieces: neither side holds it whole but the
		// client's read buffer.
		wr, err := ws.Writer(r.Context(), websocket.MessageText)
		if err != nil {
			return
		}
		piece := bytes.Repeat([]byte("x"), 1<<20)
		for sent := 0; sent <= terminal.ReadLimit; sent += len(piece) {
			if _, err := wr.Write(piece); err != nil {
				return
			}
		}
		wr.Close()
		ws.Read(r.Context()) // until the client closes
	}))
	t.Cleanup(srv.Close)
	o := termOpts(srv.URL, "job-1")
	o.Reconnect = 2 * time.Second
	// 64 MiB under -race on two loaded cores can take longer than the
	// liveness probe's patience (no message completes meanwhile), which
	// then reconnects, or than wait's 30 s: this test is about the size.
	// Attach's own context lasts as long as the wait (start's is a
	// minute, which a loaded CI machine under -race outlasted: "context
	// deadline exceeded" at 60 s).
	o.ProbeAfter, o.DeadAfter = time.Hour, time.Hour
	s := startWithin(t, o, 3*time.Minute)
	_, err := s.waitUpTo(3 * time.Minute)
	if codeOf(err) != terminal.CodeProtocol {
		t.Fatalf("err = %v (code %q), want %s", err, codeOf(err), terminal.CodeProtocol)
	}
	if n := accepted.Load(); n != 1 {
		t.Fatalf("%d connections, want 1 (no reconnection)", n)
	}
	if s.saw(terminal.EventDisconnected) {
		t.Fatal("a protocol violation was reported as a lost connection")
	}
}

// A 503 whose Retry-After reaches past the reconnection window ends the
// attempt at once: waiting as it says (up to 5 minutes) would hold the
// caller far beyond Options.Reconnect, only to fail then.
func TestHostileRetryAfterBeyondTheReconnectWindow(t *testing.T) {
	var dials atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if dials.Add(1) > 1 {
			w.Header().Set("Retry-After", "3600")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"ok":false,"error":"overloaded","code":"E_NIMBUS_DO_OVERLOADED"}`))
			return
		}
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		ws.CloseNow() // the connection drops
	}))
	t.Cleanup(srv.Close)
	o := termOpts(srv.URL, "job-1")
	o.Reconnect = 2 * time.Second
	s := start(t, o)
	_, err := s.wait()
	if codeOf(err) != terminal.CodeUnavailable {
		t.Fatalf("err = %v (code %q), want %s", err, codeOf(err), terminal.CodeUnavailable)
	}
	if n := dials.Load(); n != 2 {
		t.Fatalf("%d dials, want 2", n)
	}
}

// A redirected upgrade is refused without being followed (the
// Authorization header must not go to another host), and the error quotes
// the Location without its query: a login page's query carries tokens of
// its own, which do not belong in a CI log.
func TestHostileRedirectedUpgrade(t *testing.T) {
	var hits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
	}))
	t.Cleanup(other.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/login?state=SECRET-STATE#frag", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	s := start(t, termOpts(srv.URL, "job-1"))
	_, err := s.wait()
	if codeOf(err) != terminal.CodeHandshake || !strings.Contains(err.Error(), other.URL+"/login") {
		t.Fatalf("err = %v (code %q), want %s naming the redirect", err, codeOf(err), terminal.CodeHandshake)
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("the error quotes the redirect's query: %v", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the redirect was followed (%d requests)", n)
	}
}

// Retry-After is read by internal/retryafter, as every nimbus client reads
// it: the HTTP-date form counts (Atoi ignored it, so a server asking for an
// hour was redialled twice more at once), a number of seconds too big for
// Atoi is a day rather than nothing, and "+300", which Atoi took for five
// minutes, is no wait (RFC 9110 delay-seconds has no sign): the usual
// redials follow.
func TestHostileFirstConnectionRetryAfterForms(t *testing.T) {
	for _, tc := range []struct {
		retryAfter string
		dials      int32
		says       string
	}{
		{time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), 1, "asks to come back in "},
		{"99999999999999999999", 1, "asks to come back in 24h0m0s"},
		{"+300", 3, "the server answered 503"},
	} {
		t.Run(tc.retryAfter, func(t *testing.T) {
			var dials atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				dials.Add(1)
				w.Header().Set("Retry-After", tc.retryAfter)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte(`{"ok":false,"error":"overloaded","code":"E_NIMBUS_DO_OVERLOADED"}`))
			}))
			t.Cleanup(srv.Close)
			s := start(t, termOpts(srv.URL, "job-1"))
			_, err := s.wait()
			if codeOf(err) != terminal.CodeUnavailable || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err = %v (code %q), want %s saying %q", err, codeOf(err), terminal.CodeUnavailable, tc.says)
			}
			if n := dials.Load(); n != tc.dials {
				t.Fatalf("%d dials, want %d", n, tc.dials)
			}
		})
	}
}

// The first connection of an attach waits out a 503's Retry-After only up
// to the sandbox client's cap: a server asking for 5 minutes (which was
// waited out twice, 10 minutes for a CI job) makes attach fail at once,
// saying how long the server wanted, after the one request.
func TestHostileFirstConnectionRetryAfterBeyondTheCap(t *testing.T) {
	var dials atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dials.Add(1)
		w.Header().Set("Retry-After", "300")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"ok":false,"error":"overloaded","code":"E_NIMBUS_DO_OVERLOADED"}`))
	}))
	t.Cleanup(srv.Close)
	s := start(t, termOpts(srv.URL, "job-1"))
	_, err := s.wait()
	if codeOf(err) != terminal.CodeUnavailable {
		t.Fatalf("err = %v (code %q), want %s", err, codeOf(err), terminal.CodeUnavailable)
	}
	if !strings.Contains(err.Error(), "asks to come back in 5m0s") || !strings.Contains(err.Error(), "30s") {
		t.Fatalf("err = %q, want the wait the server asked for and the cap", err)
	}
	if n := dials.Load(); n != 1 {
		t.Fatalf("%d dials, want 1", n)
	}
}

// Piped input that ended, then output that went quiet, is not the end
// while the server has not confirmed that the input arrived: a server that
// died silently (spec §5: the socket stays open, nothing comes back) took
// `printf 'make deploy\n' | nimbus session attach` to exit 0, as if the
// keys had reached a shell. The probe sent after the input goes
// unanswered, and the connection counts as lost.
func TestHostilePipedInputIsConfirmed(t *testing.T) {
	var reads atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		for {
			// Everything is read (the writes never block) and nothing
			// is answered.
			if _, _, err := ws.Read(r.Context()); err != nil {
				return
			}
			reads.Add(1)
		}
	}))
	t.Cleanup(srv.Close)
	o := terminal.Options{Endpoint: srv.URL, SessionID: "job-1", In: strings.NewReader("make deploy\n"),
		QuietAfterEOF: 50 * time.Millisecond, ProbeAfter: time.Hour, DeadAfter: 300 * time.Millisecond}
	s := start(t, o)
	res, err := s.wait()
	if codeOf(err) != terminal.CodeUnavailable || !strings.Contains(err.Error(), "did not confirm the end of the input") {
		t.Fatalf("res %+v err %v (code %q), want %s", res, err, codeOf(err), terminal.CodeUnavailable)
	}
	if n := reads.Load(); n < 2 {
		t.Fatalf("the server read %d messages, want the input and the probe", n)
	}
}

// An upgrade answered with 101 but without the WebSocket headers, or with
// a plain 200 page, is not a refusal: the error says what came back, with
// the handshake code (exit 78 in the CLI), at once.
func TestHostileUpgradeWithoutHandshake(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer string
		says   string
	}{
		{"101 without headers", "HTTP/1.1 101 Switching Protocols\r\n\r\n", "answered the terminal's upgrade with 101 Switching Protocols but not a WebSocket handshake: WebSocket protocol violation: Connection header"},
		{"101 with a wrong accept", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n", "invalid Sec-WebSocket-Accept"},
		{"200 page", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "with 200 OK, not 101 Switching Protocols: it is not a WebSocket endpoint: hello"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, rw, err := http.NewResponseController(w).Hijack()
				if err != nil {
					return
				}
				defer c.Close()
				rw.WriteString(tc.answer)
				rw.Flush()
			}))
			t.Cleanup(srv.Close)
			s := start(t, termOpts(srv.URL, "job-1"))
			_, err := s.wait()
			if codeOf(err) != terminal.CodeHandshake || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err = %v (code %q), want %s saying %q", err, codeOf(err), terminal.CodeHandshake, tc.says)
			}
		})
	}
}

// A server that accepts every socket and then answers nothing is
// redialled only within Options.Reconnect once piped input has ended:
// connections that outlast the retry delays but never confirm the input
// restored nothing, and did not each open a fresh window (attach
// redialled such a server for ever).
func TestHostileDeafServerIsNotRedialledForEver(t *testing.T) {
	var accepted atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		accepted.Add(1)
		for {
			if _, _, err := ws.Read(r.Context()); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	// Each connection lasts DeadAfter, three times the longest retry
	// delay (10 × RetryDelay): long enough to count as stable.
	o := terminal.Options{Endpoint: srv.URL, SessionID: "job-1", In: strings.NewReader("make deploy\n"),
		QuietAfterEOF: 20 * time.Millisecond, ProbeAfter: time.Hour, DeadAfter: 300 * time.Millisecond,
		RetryDelay: 10 * time.Millisecond, Reconnect: time.Second}
	s := start(t, o)
	res, err := s.wait()
	if codeOf(err) != terminal.CodeUnavailable || !strings.Contains(err.Error(), "not restored within 1s") {
		t.Fatalf("res %+v err %v (code %q), want %s", res, err, codeOf(err), terminal.CodeUnavailable)
	}
	if n := accepted.Load(); n < 2 {
		t.Fatalf("%d connections, want the reconnections within the window", n)
	}
}

// A server that closes the terminal normally (1000) once piped input has
// ended but before it answered the probe that confirms receiving it
// leaves unknown whether the input reached a shell: CodeClosedEarly, not
// the normal end (Closed), which a script would take for success.
func TestHostileNormalCloseBeforeTheInputIsConfirmed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		for {
			_, msg, err := ws.Read(r.Context())
			if err != nil {
				return
			}
			if strings.Contains(string(msg), `"fs-watch-unsubscribe"`) {
				// The input's end is here; its confirmation never leaves.
				ws.Close(websocket.StatusNormalClosure, "terminal closed")
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	o := terminal.Options{Endpoint: srv.URL, SessionID: "job-1", In: strings.NewReader("make deploy\n"), RetryDelay: 10 * time.Millisecond, Reconnect: time.Second}
	s := start(t, o)
	res, err := s.wait()
	if codeOf(err) != terminal.CodeClosedEarly || !strings.Contains(err.Error(), "before it confirmed receiving the input") {
		t.Fatalf("res %+v err %v (code %q), want %s", res, err, codeOf(err), terminal.CodeClosedEarly)
	}
}

// heldEOF is piped input whose end (or the rest, later) comes only once
// released: the shell reads the script and exits before attach has read
// the end of its input, as on a loaded machine.
type heldEOF struct {
	data, later []byte
	release     chan struct{}
	once        sync.Once
}

func (r *heldEOF) Read(p []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	<-r.release
	if len(r.later) > 0 {
		n := copy(p, r.later)
		r.later = r.later[n:]
		return n, nil
	}
	return 0, io.EOF
}

// A script ending with exit: the shell exits at once and the server
// closes the terminal normally before attach has read the end of its
// input, so before the probe that confirms its end could go out. The
// probe attach sends right after the input is answered before the close
// (nimbus dev answers everything sent before the client learns of the
// close), and that confirms the input: exit 0 (exit 69,
// E_TERMINAL_CLOSED_EARLY, now and then under load). The server here
// answers the message that follows the input when it is a probe; a
// keepalive there means none followed the input. Without that answer,
// or with more input after it, the close still cuts it short.
func TestHostileShellExitsBeforeTheInputsEndIsRead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer bool
		later  string // input that comes after the close
		want   string // the error code, "" for a normal end
	}{
		{"probe answered", true, "", ""},
		{"probe not answered", false, "", terminal.CodeClosedEarly},
		{"more input after the answer", true, "make deploy\n", terminal.CodeClosedEarly},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &heldEOF{data: []byte("echo bye\nexit\n"), later: []byte(tc.later), release: make(chan struct{})}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ws, err := websocket.Accept(w, r, nil)
				if err != nil {
					return
				}
				defer ws.CloseNow()
				defer in.once.Do(func() { close(in.release) })
				for input := false; ; {
					_, msg, err := ws.Read(r.Context())
					if err != nil {
						return
					}
					f, derr := frame.Decode(msg)
					if derr == nil && f.Type == frame.TypeInput {
						input = true
						continue
					}
					if !input {
						continue
					}
					if derr == nil && f.Type == frame.TypeFSWatchUnsubscribe && tc.answer {
						if err := ws.Write(r.Context(), websocket.MessageText, frame.ProbeResult(f.ReqID)); err != nil {
							return
						}
					}
					_ = ws.Close(websocket.StatusNormalClosure, "terminal closed")
					return
				}
			}))
			t.Cleanup(srv.Close)
			o := terminal.Options{Endpoint: srv.URL, SessionID: "job-1", In: in, Keepalive: 20 * time.Millisecond,
				ProbeAfter: time.Hour, RetryDelay: 10 * time.Millisecond, Reconnect: time.Second}
			s := start(t, o)
			res, err := s.wait()
			if codeOf(err) != tc.want || tc.want == "" && (err != nil || res.Reason != terminal.Closed) {
				t.Fatalf("res %+v err %v (code %q), want %q", res, err, codeOf(err), tc.want)
			}
		})
	}
}

// A server that quotes the request's bearer token in its refusal (a
// proxy's page echoing the headers it got, a message naming the token it
// refused, a status line naming it) must not have it printed, in any form
// (encoded, escaped, a part of it): the error ends up in a CI log.
func TestHostileRefusalEchoingTheToken(t *testing.T) {
	tok := tokenleak.Token
	// raw answers the upgrade with head (a status line and headers) and
	// body as they are: net/http would write its own reason phrase.
	raw := func(head, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			c, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			defer c.Close()
			buf.WriteString(head + "\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + body)
			buf.Flush()
		}
	}
	for _, f := range tokenleak.Forms(tok) {
		js, _ := json.Marshal(f.Text)
		inJSON := string(js[1 : len(js)-1])
		for _, tc := range []struct {
			name string
			h    http.HandlerFunc
		}{
			{"json", raw("HTTP/1.1 403 Forbidden", `{"error":"token `+inJSON+` refused","code":"E_TOKEN_CLAIMS"}`)},
			{"page", raw("HTTP/1.1 502 Bad Gateway", "upstream refused: Bearer "+f.Text)},
			{"code", raw("HTTP/1.1 401 Unauthorized", `{"error":"no","code":"E_`+inJSON+`"}`)},
			{"busy", raw("HTTP/1.1 409 Conflict", `{"error":"attached with `+inJSON+`"}`)},
			// The echo where the client's read of the body stops.
			{"page cut", raw("HTTP/1.1 502 Bad Gateway", strings.Repeat("x", 1024-len(f.Text)/2)+f.Text)},
			{"status line 400", raw("HTTP/1.1 400 Bad token "+f.Text, "")},
			{"status line 503", raw("HTTP/1.1 503 Token "+f.Text+" throttled", "")},
			{"status line 200", raw("HTTP/1.1 200 OK "+f.Text, "")},
			{"redirect", raw("HTTP/1.1 302 Found\r\nLocation: /login/"+f.Text+"/?t="+f.Text, "")},
			{"upgrade", raw("HTTP/1.1 101 Switching "+f.Text+"\r\nUpgrade: "+f.Text+"\r\nConnection: Upgrade", "")},
			// Not HTTP: net/http quotes the line it could not read.
			{"broken status line", raw(f.Text, "")},
			{"broken header line", raw("HTTP/1.1 101 Switching Protocols\r\nBearer "+f.Text, "")},
		} {
			t.Run(f.Name+"/"+tc.name, func(t *testing.T) {
				srv := httptest.NewServer(tc.h)
				t.Cleanup(srv.Close)
				o := termOpts(srv.URL, "job-1")
				o.Tokens = sandboxclient.StaticToken(tok)
				o.Reconnect = 0
				s := start(t, o)
				_, err := s.wait()
				if err == nil {
					t.Fatal("no error")
				}
				msg := err.Error()
				var te *terminal.Error
				if errors.As(err, &te) {
					msg += " code " + te.Code
				}
				if p := tokenleak.Find(msg, tok); p != "" {
					t.Fatalf("the error repeats %q of the token: %v", p, err)
				}
				if strings.HasPrefix(tc.name, "status line") && !strings.Contains(err.Error(), "[redacted token]") {
					t.Fatalf("the error does not say what it hid: %v", err)
				}
			})
		}
	}
}

// A server (or a proxy) that quotes the request's bearer token in the
// reason of its close must not have it printed: the reason is quoted by
// the errors of a close that cut piped input short, of a terminal taken
// over and of a lost connection, and by the Result of a normal close,
// which `session attach` prints. A close reason holds at most 123 bytes:
// each form is sent as much of its start, and of its end, as fits.
func TestHostileCloseReasonEchoingTheToken(t *testing.T) {
	tok := tokenleak.Token
	type echo struct{ name, reason string }
	var echoes []echo
	for _, f := range tokenleak.Forms(tok) {
		echoes = append(echoes, echo{f.Name, f.Text[:min(len(f.Text), 123)]})
		if len(f.Text) > 123 {
			echoes = append(echoes, echo{f.Name + " end", f.Text[len(f.Text)-123:]})
		}
	}
	for _, f := range echoes {
		reason := f.reason
		for _, tc := range []struct {
			name  string
			code  websocket.StatusCode
			piped bool
			want  string // the error's code, "" for a normal end
		}{
			{"closed early", websocket.StatusNormalClosure, true, terminal.CodeClosedEarly},
			{"closed", websocket.StatusNormalClosure, false, ""},
			{"taken over", websocket.StatusGoingAway, false, terminal.CodeTakenOver},
			{"lost", websocket.StatusInternalError, false, terminal.CodeUnavailable},
		} {
			t.Run(f.name+"/"+tc.name, func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					ws, err := websocket.Accept(w, r, nil)
					if err != nil {
						return
					}
					defer ws.CloseNow()
					_ = ws.Close(tc.code, reason)
				}))
				t.Cleanup(srv.Close)
				o := termOpts(srv.URL, "job-1")
				o.Tokens = sandboxclient.StaticToken(tok)
				o.Reconnect = 0
				if tc.piped {
					o.Terminal = false
					o.In = strings.NewReader("make deploy\n")
				}
				s := start(t, o)
				res, err := s.wait()
				if codeOf(err) != tc.want || tc.want == "" && (err != nil || res.Reason != terminal.Closed) {
					t.Fatalf("res %+v err %v (code %q), want %q", res, err, codeOf(err), tc.want)
				}
				shown := []string{res.CloseReason}
				if err != nil {
					shown = append(shown, err.Error())
				}
				var te *terminal.Error
				if errors.As(err, &te) {
					shown = append(shown, te.CloseReason)
				}
				s.mu.Lock()
				for _, e := range s.events {
					if e.Err != nil {
						shown = append(shown, e.Err.Error())
					}
				}
				s.mu.Unlock()
				for _, text := range shown {
					if p := tokenleak.Find(text, tok); p != "" {
						t.Fatalf("%q repeats %q of the token", text, p)
					}
				}
			})
		}
	}
}
