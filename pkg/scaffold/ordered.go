package scaffold

import (
	"bytes"
	"encoding/json"
)

// KeyValue is one entry of a StringMap.
type KeyValue struct {
	// Key is the member name.
	Key string
	// Value is the member's string value.
	Value string
}

// StringMap is a JSON object of strings that keeps insertion order, because
// upstream builds `alias` and `vars` with object spreads and the written file
// must list keys in the same order.
type StringMap []KeyValue

// Set replaces the value of an existing key in place (keeping its position,
// as a JavaScript object spread does) or appends a new key.
func (m *StringMap) Set(key, value string) {
	for i := range *m {
		if (*m)[i].Key == key {
			(*m)[i].Value = value
			return
		}
	}
	*m = append(*m, KeyValue{Key: key, Value: value})
}

// Get returns the value for key and whether it is present.
func (m StringMap) Get(key string) (string, bool) {
	for _, kv := range m {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}

// Keys returns the keys in order.
func (m StringMap) Keys() []string {
	keys := make([]string, len(m))
	for i, kv := range m {
		keys[i] = kv.Key
	}
	return keys
}

// MarshalJSON writes the entries as a JSON object in insertion order.
func (m StringMap) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, kv := range m {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := writeJSONString(&buf, kv.Key); err != nil {
			return nil, err
		}
		buf.WriteByte(':')
		if err := writeJSONString(&buf, kv.Value); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// writeJSONString encodes s without HTML escaping so that values such as
// "<64-hex>" stay readable in the written file.
func writeJSONString(buf *bytes.Buffer, s string) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // Encode appends a newline
	return nil
}

// marshalIndent renders v as 2-space indented JSON with a trailing newline
// and without HTML escaping, which is how upstream's JSON.stringify(v, null, 2)
// output looks.
func marshalIndent(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
