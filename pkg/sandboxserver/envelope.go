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

// WriteJSON answers v as compact JSON (no HTML escaping, no trailing
// newline) with the API headers; a 503 carries Retry-After: 5, exposed to
// browsers, as the platform's overload answer does. v is encoded before
// anything is written, so a value that cannot be encoded becomes a 500
// E_NIMBUS_REMOTE_RPC instead of a broken body.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	APIHeaders(w.Header())
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
		w.Header().Set("Access-Control-Expose-Headers", "Retry-After")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		_ = enc.Encode(failure{OK: false, Error: "cannot encode result: " + err.Error(), Code: CodeRemoteRPC})
	}
	w.WriteHeader(status)
	_, _ = w.Write(bytes.TrimRight(buf.Bytes(), "\n"))
}

// WriteFail answers the failure envelope of e.
func WriteFail(w http.ResponseWriter, e *Error) {
	WriteJSON(w, e.Status, failure{OK: false, Error: e.Message, Code: e.Code})
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
	buf := envelopeBufs.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 64<<10 {
			buf.Reset()
			envelopeBufs.Put(buf)
		}
	}()
	buf.Reset()
	buf.WriteString(`{"ok":true`)
	if has {
		buf.WriteString(`,"result":`)
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(EncodeWire(result)); err != nil {
			WriteJSON(w, http.StatusInternalServerError, failure{OK: false, Error: "cannot encode result: " + err.Error(), Code: CodeRemoteRPC})
			return
		}
		buf.Truncate(buf.Len() - 1) // the encoder's newline
	}
	if rpcMs != nil {
		buf.WriteString(`,"rpcMs":`)
		buf.WriteString(strconv.FormatInt(*rpcMs, 10))
	}
	buf.WriteByte('}')
	APIHeaders(w.Header())
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// envelopeBufs hold answers while they are encoded.
var envelopeBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

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
	tail = `"}`
	if rpcMs != nil {
		tail += `,"rpcMs":` + strconv.FormatInt(*rpcMs, 10)
	}
	return head, tail + "}"
}

// failure and success are the envelopes, with upstream's member order.
type failure struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	Code  string `json:"code"`
}
