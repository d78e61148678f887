// Package unreadbody ends the connection of a request a server refuses
// before reading its body (no token, another Host, a cross-site request).
//
// The body is not wanted, and whoever sent it must not hold the server.
// Left alone, net/http reads up to 256 KiB of it (a chunked body, or a
// declared one under that) before it sends the answer, and again after,
// to reuse the connection: a client that drips bodies would keep a
// connection busy for as long as the server waits for them, with no read
// deadline for ever. A read deadline set in the past ends those reads at
// once; Connection: close tells the client the connection ends.
//
// The forward (pkg/forward) refuses where it decides to; the local
// backend (cmd/internal/localdev) refuses whenever an answer of 400 or
// more is written before a byte of the body was read.
package unreadbody

import (
	"net/http"
	"time"
)

// Refuse makes the answer about to be written to w, which refuses a
// request with a body without reading it, the last on its connection, and
// stops net/http from reading that body. The read deadline is set through
// http.ResponseController, so a writer of w's chain that keeps a record
// of its read deadline (a SetReadDeadline method of its own) keeps it.
func Refuse(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	_ = http.NewResponseController(w).SetReadDeadline(time.Now())
}

// RefuseRequest is Refuse for the answer to r, and does nothing when r
// has no body (its declared length is 0): that connection can be reused.
func RefuseRequest(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength == 0 {
		return
	}
	Refuse(w)
}
