package cmdutil

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/nimbus-sh/nimbus/internal/jsjson"
)

// WriteJSON writes v as one JSON document and a newline: indented with two
// spaces when indent is true (for a person at a terminal), compact
// otherwise (for a pipe), never HTML-escaped. A jsjson.Value is written
// with JavaScript's key order and number format, so output that upstream
// also prints keeps its bytes.
func WriteJSON(w io.Writer, v any, indent bool) error {
	var out []byte
	if jv, ok := v.(jsjson.Value); ok {
		if indent {
			out = jsjson.MarshalIndent(jv, "  ")
		} else {
			out = jsjson.Marshal(jv)
		}
		out = append(out, '\n')
	} else {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if indent {
			enc.SetIndent("", "  ")
		}
		if err := enc.Encode(v); err != nil {
			return err
		}
		out = buf.Bytes()
	}
	_, err := w.Write(out)
	return err
}

// PrintJSON writes v to stdout as the command's one JSON document:
// indented when stdout is a terminal, compact in a pipe. Every command's
// --json and machine output goes through here; NDJSON streams (exec
// events, followed logs) write one compact object per line instead.
func (f *Factory) PrintJSON(v any) error {
	return WriteJSON(f.IOStreams.Out, v, f.IOStreams.IsStdoutTTY())
}
