package sandboxserver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
)

// Bytes is binary data; it encodes as the bytes wire object
// {"__nimbusWireType":"bytes","base64":…}, the only way bytes cross the
// JSON envelope.
type Bytes []byte

// MarshalJSON encodes the bytes wire object without an intermediate
// string, since reads can be tens of MiB.
func (b Bytes) MarshalJSON() ([]byte, error) {
	out := make([]byte, 0, 40+base64.StdEncoding.EncodedLen(len(b)))
	out = append(out, `{"__nimbusWireType":"bytes","base64":"`...)
	out = base64.StdEncoding.AppendEncode(out, b)
	return append(out, '"', '}'), nil
}

// DecodeBody parses a request body: one JSON object, numbers kept as
// json.Number (so coercion sees what the client sent), bytes wire objects
// at any depth decoded into []byte.
func DecodeBody(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("unexpected data after the JSON value")
	}
	obj, ok := FromWire(v).(map[string]any)
	if !ok {
		return nil, errors.New("body must be a JSON object")
	}
	return obj, nil
}

// FromWire replaces bytes wire objects in a decoded JSON value by []byte,
// in place and at any depth. An object that only looks like one (other
// members, bad base64) stays an object, as on the Worker.
func FromWire(v any) any {
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
			t[k] = FromWire(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = FromWire(e)
		}
		return t
	}
	return v
}

// EncodeWire returns v with every []byte inside maps and slices of any
// turned into Bytes, so a result built from plain Go values encodes bytes
// as the wire type. Maps and slices are copied, never changed: a backend
// may keep serving the values it returned. nil stays nil (JSON null).
func EncodeWire(v any) any {
	switch t := v.(type) {
	case []byte:
		return Bytes(t)
	case map[string]any:
		if t == nil {
			return t
		}
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = EncodeWire(e)
		}
		return out
	case []any:
		if t == nil {
			return t
		}
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = EncodeWire(e)
		}
		return out
	}
	return v
}
