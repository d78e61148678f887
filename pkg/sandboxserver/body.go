package sandboxserver

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"
)

// CodeBodyTimeout is the 408 of a request whose body did not arrive before
// the server's read deadline.
const CodeBodyTimeout = "E_BODY_TIMEOUT"

// readBody reads and decodes the body of an authenticated rpc request into e,
// refusing one larger than MaxBody before reading it when Content-Length
// says so, and as soon as it passes MaxBody otherwise.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request, e *rpcEnvelope) *Error {
	if h.MaxBody > 0 && r.ContentLength > h.MaxBody {
		return h.tooLarge()
	}
	body := r.Body
	if h.MaxBody > 0 {
		body = http.MaxBytesReader(w, r.Body, h.MaxBody)
	}
	err := readEnvelope(body, r.ContentLength, e)
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case err == nil:
		// The body is in: a read deadline the server set for it must not
		// cut short an answer that streams for hours. (Servers without
		// deadlines, such as the in-process transport, ignore this.)
		_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
		return nil
	case errors.As(err, &mbe):
		return h.tooLarge()
	case errors.As(err, &ne) && ne.Timeout():
		return NewError(http.StatusRequestTimeout, CodeBodyTimeout, "Invalid JSON body: the request body did not arrive in time")
	}
	return NewError(http.StatusBadRequest, CodeBadJSON, "Invalid JSON body: "+err.Error())
}

func (h *Handler) tooLarge() *Error {
	return NewError(http.StatusRequestEntityTooLarge, CodeBadJSON, "Invalid JSON body: larger than "+strconv.FormatInt(h.MaxBody>>20, 10)+" MiB, the most one request may carry (write bigger files in parts, as nimbus sandbox cp does)")
}
