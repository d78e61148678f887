package sandboxclient

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CodeGateway: a gateway error page (HTTP 502, 503, 504 or one of
// Cloudflare's 52x and 530) where the Worker's JSON was expected. The
// Worker did not answer, or failed before it could; safe operations are
// retried like a 503.
const CodeGateway = "E_GATEWAY"

// headSize is how much of an answer is kept to describe it when it turns
// out not to be a JSON envelope.
const headSize = 2048

// headRecorder keeps the first headSize bytes read through it.
type headRecorder struct {
	r    io.Reader
	head []byte
	cut  cutRecorder
}

func (h *headRecorder) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if room := headSize - len(h.head); room > 0 && n > 0 {
		h.head = append(h.head, p[:min(n, room)]...)
	}
	h.cut.saw(n, err)
	return n, err
}

// cutRecorder notes an answer that the connection cut short: net/http
// reads io.ErrUnexpectedEOF from a body that ends before its
// Content-Length or its last chunk. That is a transport failure (a
// dropped connection, a proxy reset), not a server that answered
// something other than the API.
type cutRecorder struct {
	n   int64
	cut bool
}

func (c *cutRecorder) saw(n int, err error) {
	c.n += int64(n)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		c.cut = true
	}
}

// cutShort is the error of an answer the connection cut short.
func cutShort(op string, resp *http.Response, n int64) *Error {
	return &Error{Code: CodeTransport, Status: resp.StatusCode, Message: fmt.Sprintf("%s: the connection closed %d bytes into the answer, before its end", op, n), Err: io.ErrUnexpectedEOF}
}

// cutReader is a cutRecorder over a reader.
type cutReader struct {
	r io.Reader
	cutRecorder
}

func (c *cutReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.saw(n, err)
	return n, err
}

// full returns the first headSize bytes of the answer, reading what the
// JSON decoder left unread: it may stop at the first byte that is not
// JSON, before a page's title.
func (h *headRecorder) full() []byte {
	if len(h.head) < headSize {
		_, _ = io.Copy(io.Discard, io.LimitReader(h, int64(headSize-len(h.head))))
	}
	return h.head
}

// isGatewayStatus reports the statuses a gateway (Cloudflare's edge, a
// proxy) answers when the origin failed or timed out.
func isGatewayStatus(status int) bool {
	switch status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, 530:
		return true
	}
	return status >= 520 && status <= 527
}

// isJSON reports whether a Content-Type is JSON.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

func isHTML(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "text/html" || mt == "application/xhtml+xml"
}

// gatewayAnswer reports an answer a gateway made instead of the Worker: a
// gateway status without a JSON body.
func gatewayAnswer(resp *http.Response) bool {
	return isGatewayStatus(resp.StatusCode) && !isJSON(resp.Header.Get("Content-Type"))
}

// unexpectedAnswer explains an answer that is not a JSON envelope, by what
// most likely sent it: a gateway's error page (a 502, 503, 504, 52x or
// 530 that is not JSON: E_GATEWAY), a path with no remote API behind it
// (a redirect, a 404 or 405, a web page: E_REMOTE_API_NOT_ENABLED), or a
// broken answer (JSON that is not an envelope, junk, a cut-off body:
// E_BAD_RESPONSE). head is the start of the body, quoted (sanitised) in
// the message.
func (c *Client) unexpectedAnswer(op string, resp *http.Response, head []byte) *Error {
	st := resp.StatusCode
	if st >= 300 && st < 400 {
		return notEnabled(resp, nil)
	}
	detail := fmt.Sprintf("HTTP %d", st)
	// Redacted before it is parsed: the parser lowers its case.
	if ct := withoutToken(resp.Header.Get("Content-Type"), resp.Request); ct != "" {
		mt, _, _ := mime.ParseMediaType(ct)
		if mt == "" {
			mt = ct
		}
		detail += " " + sanitize(mt, 80)
	}
	if s := describeBody([]byte(withoutToken(string(head), resp.Request))); s != "" {
		detail += ": " + quote(s)
	}
	switch {
	case isGatewayStatus(st) && !isJSON(resp.Header.Get("Content-Type")):
		return &Error{Code: CodeGateway, Status: st, Message: fmt.Sprintf("%s: the gateway in front of %s answered instead of the Worker (%s)", op, c.shown, detail)}
	case st == http.StatusNotFound || st == http.StatusMethodNotAllowed || isHTML(resp.Header.Get("Content-Type")):
		// A web page or no route: not the API (a site, static assets, a
		// Worker without sdk.remote, a wrong base path).
		return &Error{Code: CodeAPINotEnabled, Status: st, Message: "remote API not enabled on this endpoint (or wrong --endpoint/--base-path): " + detail}
	}
	return &Error{Code: CodeBadResponse, Status: st, Message: fmt.Sprintf("%s: the answer of %s is not a Nimbus JSON envelope (%s)", op, c.shown, detail)}
}

// describeBody returns the title of an HTML page, or the start of a text
// body, cleaned for a one-line message.
func describeBody(head []byte) string {
	if !utf8.Valid(head) {
		// Possibly cut in a rune: keep the valid prefix.
		head = bytes.ToValidUTF8(head, nil)
	}
	s := string(head)
	lower := strings.ToLower(s)
	if i := strings.Index(lower, "<title>"); i >= 0 {
		rest := s[i+len("<title>"):]
		if j := strings.Index(strings.ToLower(rest), "</title>"); j >= 0 {
			return sanitize(rest[:j], 120)
		}
	}
	if strings.HasPrefix(strings.TrimSpace(lower), "<") {
		return "" // markup without a title says nothing useful
	}
	return sanitize(s, 120)
}

// sanitize collapses whitespace, drops control and format characters (an
// answer quoted in a message reaches a terminal) and cuts to n runes.
func sanitize(s string, n int) string {
	var b strings.Builder
	space := false
	count := 0
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
			count++
		}
		if count >= n {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		count++
	}
	return b.String()
}
