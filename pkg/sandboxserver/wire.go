package sandboxserver

import (
	"encoding/base64"
	"unicode/utf8"
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

// hasRawBytes reports whether v holds a []byte inside its maps and slices
// of any.
func hasRawBytes(v any) bool {
	switch t := v.(type) {
	case []byte:
		return true
	case map[string]any:
		for _, e := range t {
			if hasRawBytes(e) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if hasRawBytes(e) {
				return true
			}
		}
	}
	return false
}

// EncodeWire returns v with every []byte inside maps and slices of any
// turned into Bytes, so a result built from plain Go values encodes bytes
// as the wire type. Maps and slices are copied, never changed: a backend
// may keep serving the values it returned. nil stays nil (JSON null).
func EncodeWire(v any) any {
	if !hasRawBytes(v) {
		// Most results carry no bytes: nothing to copy.
		return v
	}
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

// Text is a text result held as the bytes it was read as (readFile of a
// whole file): it encodes as the JSON string of
// strings.ToValidUTF8(string(t), "\uFFFD"), byte for byte what the string
// would give, without copying the text into one.
type Text []byte

// AppendJSON appends the JSON string.
func (t Text) AppendJSON(b []byte) []byte {
	text := []byte(t)
	if !utf8.Valid(text) {
		var fix utf8Fixer
		text = fix.fix(make([]byte, 0, len(text)+8), text, true)
	}
	b = append(b, '"')
	b = appendJSONStringBody(b, text)
	return append(b, '"')
}

// MarshalJSON is AppendJSON for encoding/json.
func (t Text) MarshalJSON() ([]byte, error) { return t.AppendJSON(nil), nil }
