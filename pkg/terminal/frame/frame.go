// Package frame is the wire format of the Nimbus terminal WebSockets: the
// session terminal /s/<id>/ws and the process terminals
// /s/<id>/api/logs/<pid>. Every frame is a JSON text message with a
// "type", except the bare texts "ping" and "pong" of the keepalive. Both
// the client (pkg/terminal) and the local backend (pkg/localsandbox) encode
// and decode with this package, so the two sides cannot drift apart.
//
// Strings are encoded as upstream's JSON.stringify writes them
// (internal/jsjson): a frame nimbus sends is byte for byte the frame
// upstream sends for the same text, invalid UTF-8 included (one U+FFFD per
// maximal invalid subsequence, as TextDecoder reads it).
//
// Decoding is lenient where the protocol says to be: unknown types decode
// without error (callers ignore them), fields of the wrong JSON type read
// as absent, and sizes outside 1..MaxDimension read as absent, which the
// protocol defines as "leave that dimension unchanged".
package frame

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/nimbus-sh/nimbus/internal/jsjson"
)

// Bare keepalive texts. They are not JSON: a JSON decoder must tolerate
// them.
const (
	// Ping is the client's keepalive, sent as a bare text message.
	Ping = "ping"
	// Pong is the server's answer to Ping.
	Pong = "pong"
)

// Frame types of the session terminal (/s/<id>/ws).
const (
	// TypeInput (client → server): keystrokes in Data.
	TypeInput = "input"
	// TypeResize (client → server): Cols and Rows on the session
	// terminal, Columns and Rows on a process terminal.
	TypeResize = "resize"
	// TypeOutput (server → client): terminal bytes in Data.
	TypeOutput = "output"
	// TypeReady (server → client): the shell is attached to this socket.
	TypeReady = "ready"
	// TypeSpawn (server → client): a process started (PID, Command,
	// LongRunning, AttachedTTY).
	TypeSpawn = "spawn"
	// TypeExit: a process ended (PID, Code, Command, Reason); on a process
	// terminal, that process ended (Code, At, Reason).
	TypeExit = "exit"
	// TypeFSWatchUnsubscribe (client → server) is the liveness probe of
	// the upstream browser page; the server answers
	// TypeFSWatchUnsubscribeResult echoing ReqID.
	TypeFSWatchUnsubscribe = "fs-watch-unsubscribe"
	// TypeFSWatchUnsubscribeResult (server → client) answers
	// TypeFSWatchUnsubscribe with its ReqID; its arrival proves the
	// socket is alive.
	TypeFSWatchUnsubscribeResult = "fs-watch-unsubscribe-result"
)

// Frame types of a process terminal (/s/<id>/api/logs/<pid>).
const (
	// TypeBacklog (server → client): the process's recent Chunks, once on
	// open.
	TypeBacklog = "backlog"
	// TypeChunk (server → client): live output in Data (Stream says which).
	TypeChunk = "chunk"
	// TypeNotFound (server → client): no process PID.
	TypeNotFound = "notfound"
	// TypeStdinAck (server → client): answer to each client frame; OK
	// false means the process is gone.
	TypeStdinAck = "stdin-ack"
	// TypeStdinEnd (client → server): end of the process's input.
	TypeStdinEnd = "stdin-end"
	// TypeSignal (client → server): a signal by name in Signal.
	TypeSignal = "signal"
)

// MaxDimension bounds a terminal dimension: the kernel's window size
// fields are 16 bits.
const MaxDimension = 65535

// Chunk is one piece of a process's output in a backlog.
type Chunk struct {
	// Stream is "stdout" or "stderr".
	Stream string
	// Data is the output text.
	Data string
}

// Frame is one decoded JSON frame. Fields a frame type does not use are
// zero; a field sent with the wrong JSON type is zero too.
type Frame struct {
	// Type is the frame's "type", one of the Type constants; an unknown
	// type is kept as sent so callers can ignore it.
	Type string
	// Data is the text of input, output and chunk frames.
	Data string
	// Cols and Rows are a session terminal's resize; Columns is a process
	// terminal's. Zero means absent or out of range.
	Cols, Rows, Columns int
	// PID is the process of a spawn or exit.
	PID int64
	// Command is the process's command line in a spawn or exit.
	Command string
	// LongRunning is a spawn's "longRunning": the server counts the
	// process as long-running (a server or watcher).
	LongRunning bool
	// AttachedTTY is a spawn's "attachedTty": the process has its own
	// terminal (/s/<id>/api/logs/<pid>) and its output is not mirrored
	// into the session terminal.
	AttachedTTY bool
	// Code is an exit code (nil when absent).
	Code *int
	// Reason says why a process ended, when the server says (a signal
	// name, for instance); "" otherwise.
	Reason string
	// Stream is "stdout" or "stderr" on a chunk.
	Stream string
	// Chunks is a backlog's content.
	Chunks []Chunk
	// ReqID is the request id of a probe, kept as its raw JSON so that an
	// answer echoes it exactly (a string or a number).
	ReqID json.RawMessage
	// OK is stdin-ack's verdict.
	OK bool
	// Signal is a signal frame's name.
	Signal string
}

// ErrNotJSON is returned for a message that is not a JSON object with a
// string "type": the bare "ping"/"pong", garbage, or a JSON value of
// another shape. The protocol says to ignore such messages.
var ErrNotJSON = errors.New("frame: not a JSON object with a string type")

// IsPing reports whether msg is the bare keepalive "ping".
func IsPing(msg []byte) bool { return string(msg) == Ping }

// IsPong reports whether msg is the bare keepalive answer "pong".
func IsPong(msg []byte) bool { return string(msg) == Pong }

// wire is the union of every field as it travels. encoding/json skips a
// field whose JSON type does not fit and goes on with the others (it
// reports an *UnmarshalTypeError), which is the leniency the protocol asks
// for; numbers are read as float64 and checked afterwards.
type wire struct {
	Type        json.RawMessage   `json:"type"`
	Data        string            `json:"data"`
	Cols        *float64          `json:"cols"`
	Rows        *float64          `json:"rows"`
	Columns     *float64          `json:"columns"`
	PID         *float64          `json:"pid"`
	Command     string            `json:"command"`
	LongRunning bool              `json:"longRunning"`
	AttachedTTY bool              `json:"attachedTty"`
	Code        *float64          `json:"code"`
	Reason      string            `json:"reason"`
	Stream      string            `json:"stream"`
	Chunks      []json.RawMessage `json:"chunks"`
	ReqID       json.RawMessage   `json:"reqId"`
	OK          bool              `json:"ok"`
	Signal      string            `json:"signal"`
}

// Decode parses one message. Messages that are not a JSON object with a
// string "type" give ErrNotJSON; everything else decodes, unknown types
// included.
func Decode(msg []byte) (Frame, error) {
	if t := bytes.TrimLeft(msg, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return Frame{}, ErrNotJSON
	}
	var w wire
	if err := json.Unmarshal(msg, &w); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return Frame{}, ErrNotJSON
		}
	}
	var typ string
	if len(w.Type) == 0 || w.Type[0] != '"' || json.Unmarshal(w.Type, &typ) != nil {
		return Frame{}, ErrNotJSON
	}
	f := Frame{
		Type: typ, Data: w.Data, Command: w.Command, LongRunning: w.LongRunning, AttachedTTY: w.AttachedTTY,
		Reason: w.Reason, Stream: w.Stream, OK: w.OK, Signal: w.Signal,
		Cols: dimension(w.Cols), Rows: dimension(w.Rows), Columns: dimension(w.Columns),
	}
	if n, ok := integer(w.PID); ok {
		f.PID = n
	}
	if n, ok := integer(w.Code); ok && n >= -1<<31 && n < 1<<31 {
		c := int(n)
		f.Code = &c
	}
	if len(w.ReqID) > 0 && (w.ReqID[0] == '"' || isNumberStart(w.ReqID[0])) && len(w.ReqID) <= maxReqID {
		f.ReqID = append(json.RawMessage(nil), w.ReqID...)
	}
	for _, r := range w.Chunks {
		var c struct {
			Stream string          `json:"stream"`
			Data   json.RawMessage `json:"data"`
		}
		if len(r) == 0 || r[0] != '{' {
			continue
		}
		if err := json.Unmarshal(r, &c); err != nil {
			var te *json.UnmarshalTypeError
			if !errors.As(err, &te) {
				continue
			}
		}
		var data string
		if len(c.Data) > 0 && c.Data[0] == '"' && json.Unmarshal(c.Data, &data) == nil {
			f.Chunks = append(f.Chunks, Chunk{Stream: c.Stream, Data: data})
		}
	}
	return f, nil
}

// maxReqID bounds the request id a server echoes.
const maxReqID = 256

func isNumberStart(c byte) bool { return c == '-' || c >= '0' && c <= '9' }

// integer reads a number with an integral value that JavaScript
// represents exactly (53 bits).
func integer(v *float64) (int64, bool) {
	if v == nil || *v != float64(int64(*v)) || *v > 1<<53 || *v < -(1<<53) {
		return 0, false
	}
	return int64(*v), true
}

// dimension reads a terminal dimension: an integer in 1..MaxDimension, or
// 0 for anything else.
func dimension(v *float64) int {
	n, ok := integer(v)
	if !ok || n < 1 || n > MaxDimension {
		return 0
	}
	return int(n)
}

// Input is a session or process terminal input frame. data should be
// valid UTF-8 (see Carry); invalid bytes travel as U+FFFD.
func Input(data string) []byte { return dataFrame(TypeInput, data) }

// Output is a session terminal output frame.
func Output(data string) []byte { return dataFrame(TypeOutput, data) }

// AppendOutput appends an output frame carrying data to dst: the server's
// hot path, which keeps reusing one buffer.
func AppendOutput(dst, data []byte) []byte {
	dst = append(dst, `{"type":"output","data":`...)
	dst = jsjson.AppendQuoteBytes(dst, data)
	return append(dst, '}')
}

// Resize is a session terminal resize frame.
func Resize(cols, rows int) []byte {
	b := append([]byte(`{"type":"resize","cols":`), strconv.Itoa(cols)...)
	b = append(b, `,"rows":`...)
	b = append(b, strconv.Itoa(rows)...)
	return append(b, '}')
}

// ProcessResize is a process terminal resize frame (its field is
// "columns", not "cols").
func ProcessResize(cols, rows int) []byte {
	b := append([]byte(`{"type":"resize","columns":`), strconv.Itoa(cols)...)
	b = append(b, `,"rows":`...)
	b = append(b, strconv.Itoa(rows)...)
	return append(b, '}')
}

// StdinEnd ends a process terminal's input.
func StdinEnd() []byte { return []byte(`{"type":"stdin-end"}`) }

// Ready is the server's ready frame.
func Ready() []byte { return []byte(`{"type":"ready"}`) }

// Probe is the liveness probe of the upstream browser page: an
// unsubscribe of a watch that does not exist, which every server answers.
func Probe(reqID string) []byte {
	b := jsjson.AppendQuote([]byte(`{"type":"fs-watch-unsubscribe","subId":"nimbus-liveness-probe","reqId":`), reqID)
	return append(b, '}')
}

// ProbeResult answers a probe: nothing was removed. reqID is the probe's
// raw request id (nil when it had none).
func ProbeResult(reqID json.RawMessage) []byte {
	b := []byte(`{"type":"fs-watch-unsubscribe-result","ok":true,"removed":0`)
	if len(reqID) > 0 {
		b = append(b, `,"reqId":`...)
		b = append(b, reqID...)
	}
	return append(b, '}')
}

func dataFrame(typ, data string) []byte {
	b := append([]byte(`{"type":"`), typ...)
	b = append(b, `","data":`...)
	b = jsjson.AppendQuote(b, data)
	return append(b, '}')
}
