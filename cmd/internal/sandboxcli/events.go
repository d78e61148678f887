package sandboxcli

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
	"unicode/utf8"
)

// EventWriter renders exec output as NDJSON events on one writer:
// {"type":"stdout","data":…}, {"type":"stderr","data":…} and finally
// {"type":"exit","code":N,"duration":MS}. Data is text: invalid UTF-8 is
// replaced, as the Worker's buffered exec does.
type EventWriter struct {
	mu  sync.Mutex
	out io.Writer
	buf bytes.Buffer
}

// NewEventWriter writes events to out.
func NewEventWriter(out io.Writer) *EventWriter { return &EventWriter{out: out} }

type event struct {
	Type     string      `json:"type"`
	Data     *string     `json:"data,omitempty"`
	Code     json.Number `json:"code,omitempty"`
	Duration *int64      `json:"duration,omitempty"`
}

func (e *EventWriter) emit(ev event) error { return e.JSON(ev) }

// JSON writes v as one event line, in order with the stream events.
func (e *EventWriter) JSON(v any) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.buf.Reset()
	enc := json.NewEncoder(&e.buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := e.out.Write(e.buf.Bytes())
	return err
}

// Stream returns a writer whose writes become events of type kind.
func (e *EventWriter) Stream(kind string) io.Writer { return streamWriter{e, kind} }

// Exit writes the final event; code is the remote exit code as the server
// sent it (see RemoteExit).
func (e *EventWriter) Exit(code json.Number, durationMs int64) error {
	return e.emit(event{Type: "exit", Code: code, Duration: &durationMs})
}

type streamWriter struct {
	e    *EventWriter
	kind string
}

func (s streamWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	d := string(p)
	if !utf8.ValidString(d) {
		// Each invalid byte becomes U+FFFD here rather than in
		// encoding/json, which writes it as "\ufffd" before Go 1.27 and
		// raw after: the output is the same whatever the toolchain.
		d = string([]rune(d))
	}
	if err := s.e.emit(event{Type: s.kind, Data: &d}); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteJSONLine writes v as one compact JSON line (NDJSON), without HTML
// escaping.
func WriteJSONLine(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}
