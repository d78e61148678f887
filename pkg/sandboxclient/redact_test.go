package sandboxclient_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nimbus-sh/nimbus/internal/tokenleak"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// A server may quote the token it was sent in another form than the one
// sent: percent-encoded in a URL it repeats, JSON- or HTML-escaped in a
// page, or only a part of it (its signature, a prefix cut by its own
// limit). No form of it may reach an error, whichever path the text takes
// into one: an error envelope (message and code), a page that is not the
// API, a redirect's path, a Content-Type, an error frame of a stream.
func TestHostileEchoedTokenFormsAreRedacted(t *testing.T) {
	tok := tokenleak.Token
	for _, f := range tokenleak.Forms(tok) {
		t.Run(f.Name, func(t *testing.T) {
			// The form is in a JSON string: escaped for JSON (its \u
			// escapes, if any, stay escapes once decoded).
			js, _ := json.Marshal(f.Text)
			inJSON := string(js[1 : len(js)-1])
			srv := hostile(t, map[string]opHandler{
				"mkdir": func(w http.ResponseWriter, r *http.Request, _ []json.RawMessage) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusForbidden)
					io.WriteString(w, `{"ok":false,"error":"token `+inJSON+` refused","code":"E_TOKEN_CLAIMS"}`)
				},
				"deleteFile": func(w http.ResponseWriter, r *http.Request, _ []json.RawMessage) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusForbidden)
					io.WriteString(w, `{"ok":false,"error":"refused","code":"E_`+inJSON+`"}`)
				},
				"stat": func(w http.ResponseWriter, r *http.Request, _ []json.RawMessage) {
					w.Header().Set("Content-Type", "text/plain")
					w.WriteHeader(http.StatusNotFound)
					io.WriteString(w, "no route; you sent Authorization: Bearer "+f.Text)
				},
				// The echo where the message's quote of the page is cut.
				"readdir": func(w http.ResponseWriter, r *http.Request, _ []json.RawMessage) {
					w.Header().Set("Content-Type", "text/plain")
					w.WriteHeader(http.StatusNotFound)
					io.WriteString(w, "no route "+strings.Repeat("x", 40)+f.Text+strings.Repeat(" more", 1000))
				},
				"exists": func(w http.ResponseWriter, r *http.Request, _ []json.RawMessage) {
					w.Header().Set("Location", "/login/"+f.Text+"/next?t="+f.Text)
					w.WriteHeader(http.StatusFound)
				},
				"readFile": func(w http.ResponseWriter, r *http.Request, _ []json.RawMessage) {
					w.Header().Set("Content-Type", "x-echo/"+f.Text)
					w.WriteHeader(http.StatusBadRequest)
					io.WriteString(w, "junk")
				},
				"execStream": func(w http.ResponseWriter, r *http.Request, _ []json.RawMessage) {
					w.Header().Set("Content-Type", "application/vnd.nimbus.exec-stream")
					w.Write(frame(sc.FrameError, []byte(`{"message":"cannot run for `+inJSON+`"}`)))
				},
			})
			sb := box(t, newClient(t, srv.URL, tok), "job-1")
			check := func(what string, err error) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s: no error", what)
				}
				msg := err.Error()
				if re, ok := err.(*sc.RemoteError); ok {
					msg += " code " + re.Code
				}
				if p := tokenleak.Find(msg, tok); p != "" {
					t.Errorf("%s: the error repeats %q of the token: %s", what, p, msg)
				} else if !strings.Contains(msg, "[redacted token]") {
					t.Errorf("%s: the error does not say what it hid: %s", what, msg)
				}
			}
			check("envelope", sb.Mkdir(ctx(t), "/home/user/d"))
			check("envelope code", sb.DeleteFile(ctx(t), "/home/user/d", false))
			_, err := sb.Stat(ctx(t), "/home/user/f")
			check("page", err)
			_, err = sb.ReadDir(ctx(t), "/home/user")
			check("page cut", err)
			_, err = sb.Exists(ctx(t), "/home/user/f")
			check("redirect", err)
			_, _, err = sb.ReadFile(ctx(t), "/home/user/f")
			check("content type", err)
			_, err = sb.Run(ctx(t), "true", sc.ExecOptions{}, io.Discard, io.Discard)
			check("error frame", err)
		})
	}
}

// Where the answer is not HTTP net/http can read (a status line, a status
// code or a header line that breaks the protocol), net/http quotes what
// it got in the transport error, which the client's error carries: a
// server that echoes the token there must not have it shown either.
func TestHostileBrokenAnswerEchoingTheToken(t *testing.T) {
	tok := tokenleak.Token
	for _, f := range tokenleak.Forms(tok) {
		for _, tc := range []struct{ name, head string }{
			{"status line", f.Text + "\r\n\r\n"},
			{"status code", "HTTP/1.1 " + f.Text + " OK\r\n\r\n"},
			{"header line", "HTTP/1.1 200 OK\r\nBearer " + f.Text + "\r\n\r\n"},
		} {
			t.Run(f.Name+"/"+tc.name, func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					c, buf, err := w.(http.Hijacker).Hijack()
					if err != nil {
						return
					}
					defer c.Close()
					_, _ = buf.WriteString(tc.head)
					_ = buf.Flush()
				}))
				t.Cleanup(srv.Close)
				sb := box(t, newClient(t, srv.URL, tok), "job-1")
				err := sb.Mkdir(ctx(t), "/home/user/d")
				if !sc.HasCode(err, sc.CodeTransport) {
					t.Fatalf("err %v, want %s", err, sc.CodeTransport)
				}
				if p := tokenleak.Find(err.Error(), tok); p != "" {
					t.Fatalf("the error repeats %q of the token: %v", p, err)
				}
			})
		}
	}
}

// What is not the token's secret part is left as it was: a JWT's header
// (the same in every token), other tokens, ordinary words, short tokens.
func TestRedactTokenKeepsWhatIsNotTheToken(t *testing.T) {
	tok := tokenleak.Token
	header := tok[:strings.IndexByte(tok, '.')]
	other := header + ".eyJ0biI6Im90aGVyLXRlbmFudCIsInN1YiI6Im1lIn0.b3RoZXItc2lnbmF0dXJlLWJ5dGVzLXh5eg"
	for _, s := range []string{
		"the token's header " + header + " names an algorithm the Worker does not accept",
		"token " + other + " expired",
		"path /home/user/app%2Fsrc not found; \\u0041 &#x41; & 100% sure",
		"E_TOKEN_EXPIRED: the token expired at 2025-01-01T00:00:00Z (issuer nimbus, scope sandbox:use)",
	} {
		if got := sc.RedactToken(s, tok); got != s {
			t.Errorf("RedactToken(%q) = %q", s, got)
		}
	}
	if got := sc.RedactToken("tok abc1234 and abc12345", "abc1234"); got != "tok abc1234 and abc12345" && got != "tok [redacted token] and [redacted token]5" {
		t.Errorf("short token: %q", got)
	}
	if got := sc.RedactToken("a short tok1234 stays", "tok1234"); got != "a short tok1234 stays" {
		t.Errorf("a 7-byte token: %q", got)
	}
	// A token of another shape is secret whole: a long enough piece of it
	// is hidden, as is the token itself.
	opaque := "nmb_0123456789abcdefghijklmnopqrstuv"
	if got := sc.RedactToken("key nmb_0123456789abcdefghij… refused; key "+opaque, opaque); got != "key [redacted token]… refused; key [redacted token]" {
		t.Errorf("opaque token: %q", got)
	}
	// Spans that touch make one.
	if got := sc.RedactToken(tok+tok, tok); got != "[redacted token]" {
		t.Errorf("two tokens: %q", got)
	}
}

// Redaction runs on every error made of a server's text: it must cost
// little next to the round trip that brought the text.
func BenchmarkRedactToken(b *testing.B) {
	tok := tokenleak.Token
	texts := map[string]string{
		"message":       "Unknown Nimbus sandbox operation: mkdir (the Worker is older than this client)",
		"page 4KiB":     strings.Repeat("<p>The web server reported a bad gateway error.</p>\n", 80),
		"escaped 4KiB":  strings.Repeat(`{"error":"path /home/user/a%2Fb not found \u00e9"} `, 80),
		"echo of token": "no route; you sent Authorization: Bearer " + tok + strings.Repeat(" x", 200),
	}
	for name, s := range texts {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			b.ReportAllocs()
			for b.Loop() {
				_ = sc.RedactToken(s, tok)
			}
		})
	}
}

// POST /new's refused redirects quote the Location's origin and the id in
// its path: a server that names a host or an id after the request's
// token (its secret part, in a label or a path segment) must not put it
// in the error.
func TestHostileCreateSessionEchoingTheToken(t *testing.T) {
	tok := tokenleak.Token
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	var loc atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Location", loc.Load().(string))
		w.WriteHeader(http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, tok)
	for what, location := range map[string]string{
		"another origin":  "https://" + sig + ".evil.example/s/job-1/",
		"an invalid id":   "/s/" + sig + "%20x/",
		"the whole token": "https://" + strings.ReplaceAll(tok, ".", "-") + ".example/s/job-1/",
	} {
		loc.Store(location)
		_, err := c.CreateSession(ctx(t))
		if codeOf(err) != sc.CodeBadResponse {
			t.Fatalf("%s: %v", what, err)
		}
		if p := tokenleak.Find(err.Error(), tok); p != "" || strings.Contains(err.Error(), sig) {
			t.Errorf("%s: the error repeats %q of the token: %v", what, p, err)
		}
	}
}
