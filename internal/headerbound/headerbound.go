// Package headerbound recognises net/http's refusal of an answer whose
// headers are over its transport's MaxResponseHeaderBytes. net/http gives
// that refusal as text only (its error types are unexported or internal),
// differently over HTTP/1.1 and HTTP/2, so the clients of a Worker
// (pkg/sandboxclient, pkg/forward) share this one reading of it. Should
// the texts change, the errors read as a Worker that cannot be reached,
// and the tests of those packages that send oversized headers fail.
package headerbound

import "strings"

// Exceeded reports whether err is net/http's refusal of answer headers
// over the bound: over HTTP/1.1 ("server response headers exceeded N
// bytes"), over HTTP/2 for 1xx answers ("header list too large", the
// cause of a stream's PROTOCOL_ERROR) and for final headers whose
// encoded block ended in the frame that passed the bound ("response
// header list larger than advertised limit", the same).
func Exceeded(err error) bool {
	s := err.Error()
	return strings.Contains(s, "server response headers exceeded") ||
		strings.Contains(s, "header list too large") ||
		strings.Contains(s, "response header list larger than advertised limit")
}

// BrokenHTTP2 reports whether err is the connection error net/http's
// HTTP/2 client raises itself when it cannot read the frames of an
// answer: headers over the bound whose block goes on in further frames
// ("connection error: PROTOCOL_ERROR"), or a header field longer than the
// bound on its own ("connection error: COMPRESSION_ERROR"). net/http
// gives the same two errors for the other frames that break HTTP/2 and
// does not tell which it was; they all mean the Worker's answer is not
// HTTP/2 a client can read. A stream reset or a GOAWAY the server sent
// (whatever its code) is not one of them: net/http words those
// differently ("stream error: … received from peer", "received GOAWAY
// from server"), and they stay failures to reach the Worker.
func BrokenHTTP2(err error) bool {
	s := err.Error()
	return strings.HasSuffix(s, "connection error: PROTOCOL_ERROR") ||
		strings.HasSuffix(s, "connection error: COMPRESSION_ERROR")
}
