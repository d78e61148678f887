package sandboxserver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
)

// APIHeaders sets the headers of every remote API answer: never cached,
// callable from any origin (browsers send the token in Authorization).
// The names are canonical already and the values share one allocation
// (each value its own full slice, so that an Add appends elsewhere): this
// runs for every answer.
func APIHeaders(h http.Header) {
	v := [...]string{"no-store", "*", "POST, OPTIONS", "Authorization, Content-Type"}
	vals := v[:]
	h["Cache-Control"] = vals[0:1:1]
	h["Access-Control-Allow-Origin"] = vals[1:2:2]
	h["Access-Control-Allow-Methods"] = vals[2:3:3]
	h["Access-Control-Allow-Headers"] = vals[3:4:4]
}

// jsonHeaders sets APIHeaders and Content-Type application/json, with
// one allocation for the values, and Content-Length when the answer is
// n bytes long (n >= 0): net/http computes it itself for an answer that
// fits its 2 KiB buffer, and would send a larger one chunked.
func jsonHeaders(h http.Header, n int) {
	v := [...]string{"no-store", "*", "POST, OPTIONS", "Authorization, Content-Type", "application/json", ""}
	vals := v[:]
	h["Cache-Control"] = vals[0:1:1]
	h["Access-Control-Allow-Origin"] = vals[1:2:2]
	h["Access-Control-Allow-Methods"] = vals[2:3:3]
	h["Access-Control-Allow-Headers"] = vals[3:4:4]
	h["Content-Type"] = vals[4:5:5]
	if n > 2048 {
		vals[5] = strconv.Itoa(n)
		h["Content-Length"] = vals[5:6:6]
	}
}

// WriteJSON answers v as compact JSON (no HTML escaping, no trailing
// newline) with the API headers; a 503 carries Retry-After: 5, exposed to
// browsers, as the platform's overload answer does. v is encoded before
// anything is written, so a value that cannot be encoded becomes a 500
// E_NIMBUS_REMOTE_RPC instead of a broken body.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	e := getEnvelope()
	defer e.put()
	if err := e.enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		e.buf.Reset()
		_ = e.enc.Encode(failure{OK: false, Error: "cannot encode result: " + err.Error(), Code: CodeRemoteRPC})
	}
	e.buf.Truncate(e.buf.Len() - 1) // the encoder's newline
	e.write(w, status)
}

// WriteFail answers the failure envelope of e. It is not inlined: the
// failure it builds would otherwise take room in the stack frame of every
// handler that may fail, which stays on the stack while the handler's
// success path runs (see ServeRPC).
//
//go:noinline
func WriteFail(w http.ResponseWriter, e *Error) {
	WriteJSON(w, e.Status, failure{OK: false, Error: e.Message, Code: e.Code})
}

// JSONAppender is implemented by results that write their own JSON, for
// answers sent so often that encoding/json's reflection shows (ready's).
type JSONAppender interface {
	// AppendJSON appends the value's JSON encoding to b, as encoding/json
	// would write it, and returns the extended slice.
	AppendJSON(b []byte) []byte
}

// WriteOK answers the success envelope. has says whether the op returned
// a result: "result" is then always written, even when it is null, zero
// or empty, and left out for void ops. rpcMs, when not nil, is the diag
// timing. []byte values inside result are sent as the bytes wire type.
// A FileBytes or FileText result is read from its file while the answer
// is written.
func WriteOK(w http.ResponseWriter, result any, has bool, rpcMs *int64) {
	if b, ok := result.(Bytes); ok && has {
		writeBytesOK(w, b, rpcMs)
		return
	}
	if b, ok := result.([]byte); ok && has {
		writeBytesOK(w, b, rpcMs)
		return
	}
	switch f := result.(type) {
	case FileBytes:
		writeFileBytes(w, f, rpcMs)
		return
	case FileText:
		writeFileText(w, f, rpcMs)
		return
	}
	// The envelope is written around the encoded result, in one pass
	// (encoding success through its MarshalJSON would encode the result,
	// then have encoding/json check and copy it again).
	e := getEnvelope()
	defer e.put()
	e.buf.WriteString(`{"ok":true`)
	if has {
		e.buf.WriteString(`,"result":`)
		if a, ok := result.(JSONAppender); ok {
			e.buf.Write(a.AppendJSON(e.buf.AvailableBuffer()))
		} else {
			if err := e.enc.Encode(EncodeWire(result)); err != nil {
				WriteJSON(w, http.StatusInternalServerError, failure{OK: false, Error: "cannot encode result: " + err.Error(), Code: CodeRemoteRPC})
				return
			}
			e.buf.Truncate(e.buf.Len() - 1) // the encoder's newline
		}
	}
	e.buf.Write(appendEnvelopeEnd(e.buf.AvailableBuffer(), rpcMs))
	e.write(w, http.StatusOK)
}

// envelope is an answer being encoded: a buffer and an encoder writing
// into it, pooled together (an encoder costs allocations to set up).
type envelope struct {
	buf bytes.Buffer
	enc *json.Encoder
}

func getEnvelope() *envelope {
	e := envelopeBufs.Get().(*envelope)
	e.buf.Reset()
	return e
}

func (e *envelope) put() {
	if e.buf.Cap() <= 64<<10 {
		envelopeBufs.Put(e)
	}
}

// write sends the encoded answer with the API headers.
func (e *envelope) write(w http.ResponseWriter, status int) {
	jsonHeaders(w.Header(), e.buf.Len())
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
		w.Header().Set("Access-Control-Expose-Headers", "Retry-After")
	}
	w.WriteHeader(status)
	_, _ = w.Write(e.buf.Bytes())
}

// envelopeBufs hold answers while they are encoded.
var envelopeBufs = sync.Pool{New: func() any {
	e := &envelope{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

// bytesChunk is how much data writeBytesOK encodes per write (a multiple
// of 3, so that no padding appears mid-text).
const bytesChunk = 48 << 10

// writeBytesOK answers a bytes result (readFileBytes, readRange: up to 28
// MiB) as WriteOK would, encoding the base64 text while writing it
// instead of building the envelope in memory (the encoder's copies cost
// four times the data), with an exact Content-Length.
func writeBytesOK(w http.ResponseWriter, b []byte, rpcMs *int64) {
	head, tail := bytesEnvelope(rpcMs)
	APIHeaders(w.Header())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(head)+base64.StdEncoding.EncodedLen(len(b))+len(tail)))
	w.WriteHeader(http.StatusOK)
	buf := make([]byte, 0, base64.StdEncoding.EncodedLen(min(len(b), bytesChunk))+len(head)+len(tail))
	buf = append(buf, head...)
	for {
		n := min(len(b), bytesChunk)
		buf = base64.StdEncoding.AppendEncode(buf, b[:n])
		b = b[n:]
		if len(b) == 0 {
			buf = append(buf, tail...)
		}
		if _, err := w.Write(buf); err != nil || len(b) == 0 {
			return
		}
		buf = buf[:0]
	}
}

// bytesEnvelope is what a bytes answer writes before and after the base64
// text.
func bytesEnvelope(rpcMs *int64) (head, tail string) {
	head = `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"`
	return head, string(appendEnvelopeEnd([]byte(`"}`), rpcMs))
}

// appendEnvelopeEnd appends what closes a success envelope after its
// result: the diag timing when there is one, and the brace.
func appendEnvelopeEnd(dst []byte, rpcMs *int64) []byte {
	if rpcMs != nil {
		dst = append(dst, `,"rpcMs":`...)
		dst = strconv.AppendInt(dst, *rpcMs, 10)
	}
	return append(dst, '}')
}

// failure and success are the envelopes, with upstream's member order.
type failure struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	Code  string `json:"code"`
}
