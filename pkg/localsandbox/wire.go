package localsandbox

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
)

// Codes of failures reported by New and the helpers of this package (the
// wire codes of the API are the upstream ones, E_ARG_SHAPE and so on).
const (
	// CodeConfig: the server cannot be set up (data directory).
	CodeConfig = "E_LOCAL_CONFIG"
)

// Error is a failure of this package outside the wire protocol (setting
// up the server); use errors.As to read its Code.
type Error struct {
	Code    string
	Message string
	Err     error
}

// Error returns the message and its cause.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// apiError is a failure envelope {"ok":false,"error","code"} with its
// HTTP status.
type apiError struct {
	status int
	code   string
	msg    string
}

func argErr(msg string) *apiError { return &apiError{400, "E_ARG_SHAPE", msg} }
func rpcErr(msg string) *apiError { return &apiError{500, "E_NIMBUS_REMOTE_RPC", msg} }

// bytesValue is binary data: encoded as the bytes wire type in answers.
type bytesValue []byte

// MarshalJSON encodes the bytes wire object.
func (b bytesValue) MarshalJSON() ([]byte, error) {
	out := make([]byte, 0, 40+base64.StdEncoding.EncodedLen(len(b)))
	out = append(out, `{"__nimbusWireType":"bytes","base64":"`...)
	out = base64.StdEncoding.AppendEncode(out, b)
	return append(out, '"', '}'), nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	apiHeaders(w.Header())
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
		w.Header().Set("Access-Control-Expose-Headers", "Retry-After")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = 500
		buf.Reset()
		_ = enc.Encode(map[string]any{"ok": false, "error": "cannot encode result: " + err.Error(), "code": "E_NIMBUS_REMOTE_RPC"})
	}
	w.WriteHeader(status)
	_, _ = w.Write(bytes.TrimRight(buf.Bytes(), "\n"))
}

// failure and success are the envelopes, with upstream's member order.
type failure struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	Code  string `json:"code"`
}

type success struct {
	RPCMs  *int64
	has    bool
	result any
}

// MarshalJSON writes "result" whenever the op returned one, even a null,
// zero or empty value, and leaves it out for void ops.
func (s success) MarshalJSON() ([]byte, error) {
	type plain struct {
		OK     bool   `json:"ok"`
		Result any    `json:"result"`
		RPCMs  *int64 `json:"rpcMs,omitempty"`
	}
	type void struct {
		OK    bool   `json:"ok"`
		RPCMs *int64 `json:"rpcMs,omitempty"`
	}
	if s.has {
		return json.Marshal(plain{OK: true, Result: s.result, RPCMs: s.RPCMs})
	}
	return json.Marshal(void{OK: true, RPCMs: s.RPCMs})
}

func writeFail(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, failure{OK: false, Error: e.msg, Code: e.code})
}

// writePlainFail answers the routes outside the remote API, whose errors
// have no "ok" member.
func writePlainFail(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="nimbus"`)
	}
	w.WriteHeader(e.status)
	b, _ := json.Marshal(map[string]string{"error": e.msg, "code": e.code})
	_, _ = w.Write(b)
}

// decodeBody parses a request body (numbers kept as json.Number) and
// decodes bytes wire objects at any depth into []byte.
func decodeBody(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("unexpected data after the JSON value")
	}
	obj, ok := fromWire(v).(map[string]any)
	if !ok {
		return nil, errors.New("body must be a JSON object")
	}
	return obj, nil
}

func fromWire(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 2 && t["__nimbusWireType"] == "bytes" {
			if s, ok := t["base64"].(string); ok {
				if b, err := base64.StdEncoding.DecodeString(s); err == nil {
					return b
				}
			}
		}
		for k, e := range t {
			t[k] = fromWire(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = fromWire(e)
		}
		return t
	}
	return v
}
