package frame_test

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/nimbus-sh/nimbus/pkg/terminal/frame"
)

// FuzzDecode feeds arbitrary messages to the decoder both sides use on
// what the other side sends: it must never panic, must accept every
// frame the encoders produce, and what it decodes must re-encode to valid
// JSON that decodes to the same text.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"input","data":"ls\r"}`, `{"type":"resize","cols":80,"rows":24}`,
		`{"type":"output","data":"\u001b[0m$ "}`, `{"type":"ready"}`, "ping", "pong",
		`{"type":"spawn","pid":1,"command":"x","attachedTty":true}`,
		`{"type":"backlog","pid":1,"chunks":[{"stream":"stdout","data":"a"}]}`,
		`{"type":"fs-watch-unsubscribe","subId":"s","reqId":"liveness-1"}`,
		`{"type":"exit","code":1e400}`, `{"type":"resize","cols":-0,"rows":1e-400}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		fr, err := frame.Decode(msg)
		if err != nil {
			return
		}
		if fr.Cols < 0 || fr.Cols > frame.MaxDimension || fr.Rows < 0 || fr.Rows > frame.MaxDimension {
			t.Fatalf("dimension out of range: %+v", fr)
		}
		if len(fr.ReqID) > 0 && !json.Valid(fr.ReqID) {
			t.Fatalf("reqId %q is not JSON", fr.ReqID)
		}
		if !json.Valid(frame.ProbeResult(fr.ReqID)) {
			t.Fatalf("probe answer is not JSON for reqId %q", fr.ReqID)
		}
		enc := frame.Output(fr.Data)
		back, err := frame.Decode(enc)
		if err != nil || !json.Valid(enc) {
			t.Fatalf("re-encoding %q gave %q: %v", fr.Data, enc, err)
		}
		if utf8.ValidString(fr.Data) && back.Data != fr.Data {
			t.Fatalf("round trip changed %q to %q", fr.Data, back.Data)
		}
	})
}

// FuzzCarry checks that any input split anywhere reassembles to the same
// bytes, and that all but a bounded tail is released at once.
func FuzzCarry(f *testing.F) {
	f.Add([]byte("héllo 😀"), uint8(3))
	f.Add([]byte("\xf0\x9f\x98"), uint8(1))
	f.Fuzz(func(t *testing.T, p []byte, cut uint8) {
		n := int(cut) % (len(p) + 1)
		var c frame.Carry
		out := c.Append(nil, p[:n])
		if c.Pending() >= utf8.UTFMax {
			t.Fatalf("carried %d bytes", c.Pending())
		}
		out = c.Append(out, p[n:])
		out = c.Flush(out)
		if string(out) != string(p) {
			t.Fatalf("%q became %q", p, out)
		}
	})
}
