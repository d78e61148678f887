package cmdutil

import (
	"bytes"
	"encoding/json"
	"io"
)

// WriteJSON writes v as indented JSON followed by a newline, without HTML
// escaping (scripts read it, browsers do not).
func WriteJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}
