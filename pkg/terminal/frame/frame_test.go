package frame_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nimbus-sh/nimbus/pkg/terminal/frame"
)

func TestDecodeSessionFrames(t *testing.T) {
	f, err := frame.Decode([]byte(`{"type":"output","data":"\u001b[1mhi\r\n"}`))
	if err != nil || f.Type != frame.TypeOutput || f.Data != "\x1b[1mhi\r\n" {
		t.Fatalf("output: %+v %v", f, err)
	}
	f, err = frame.Decode([]byte(` {"type":"resize","cols":132,"rows":43}`))
	if err != nil || f.Cols != 132 || f.Rows != 43 {
		t.Fatalf("resize: %+v %v", f, err)
	}
	f, _ = frame.Decode([]byte(`{"type":"spawn","pid":42,"command":"opencode","longRunning":false,"attachedTty":true}`))
	if f.Type != frame.TypeSpawn || f.PID != 42 || f.Command != "opencode" || !f.AttachedTTY || f.LongRunning {
		t.Fatalf("spawn: %+v", f)
	}
	f, _ = frame.Decode([]byte(`{"type":"exit","pid":42,"code":137,"reason":"killed"}`))
	if f.Code == nil || *f.Code != 137 || f.Reason != "killed" {
		t.Fatalf("exit: %+v", f)
	}
	f, _ = frame.Decode([]byte(`{"type":"backlog","pid":7,"chunks":[{"stream":"stdout","data":"a","ts":1},{"stream":"stderr","data":"b","binary":true},{"data":3},"x"]}`))
	if len(f.Chunks) != 2 || f.Chunks[0].Data != "a" || f.Chunks[1].Stream != "stderr" {
		t.Fatalf("backlog: %+v", f)
	}
	f, _ = frame.Decode([]byte(`{"type":"whatever","x":1}`))
	if f.Type != "whatever" {
		t.Fatalf("unknown types decode: %+v", f)
	}
}

func TestDecodeLenient(t *testing.T) {
	for _, msg := range []string{"ping", "pong", "", "   ", "[1]", `"output"`, `{"type":1}`, `{"data":"x"}`, `{"type":"output"`, "null"} {
		if _, err := frame.Decode([]byte(msg)); !errors.Is(err, frame.ErrNotJSON) {
			t.Errorf("%q: err %v, want ErrNotJSON", msg, err)
		}
	}
	// Wrong field types and out-of-range sizes read as absent.
	f, err := frame.Decode([]byte(`{"type":"resize","cols":"80","rows":-3}`))
	if err != nil || f.Cols != 0 || f.Rows != 0 {
		t.Fatalf("%+v %v", f, err)
	}
	f, _ = frame.Decode([]byte(`{"type":"resize","cols":80.5,"rows":70000}`))
	if f.Cols != 0 || f.Rows != 0 {
		t.Fatalf("%+v", f)
	}
	f, _ = frame.Decode([]byte(`{"type":"resize","cols":1e2,"rows":24.0}`))
	if f.Cols != 100 || f.Rows != 24 {
		t.Fatalf("%+v", f)
	}
	f, _ = frame.Decode([]byte(`{"type":"input","data":null}`))
	if f.Type != frame.TypeInput || f.Data != "" {
		t.Fatalf("%+v", f)
	}
	if !frame.IsPing([]byte("ping")) || frame.IsPing([]byte("ping ")) || !frame.IsPong([]byte("pong")) {
		t.Fatal("bare keepalive texts")
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	weird := "a\"b\\c\x00\x1b[31m\r\n\t\u2028é😀<&>"
	for _, msg := range [][]byte{frame.Input(weird), frame.Output(weird), frame.AppendOutput(nil, []byte(weird))} {
		if !json.Valid(msg) {
			t.Fatalf("invalid JSON %q", msg)
		}
		f, err := frame.Decode(msg)
		if err != nil || f.Data != weird {
			t.Fatalf("round trip %q: %+v %v", msg, f, err)
		}
		var std struct{ Data string }
		if err := json.Unmarshal(msg, &std); err != nil || std.Data != weird {
			t.Fatalf("encoding/json reads %q as %q", msg, std.Data)
		}
	}
	// Invalid UTF-8 travels as U+FFFD, one per maximal subpart as
	// TextDecoder does, never as invalid JSON.
	msg := frame.AppendOutput(nil, []byte("a\xffb\xe2\x82"))
	f, _ := frame.Decode(msg)
	if !json.Valid(msg) || f.Data != "a\ufffdb\ufffd" {
		t.Fatalf("%q → %q", msg, f.Data)
	}
	f, _ = frame.Decode(frame.Resize(80, 24))
	if f.Type != frame.TypeResize || f.Cols != 80 || f.Rows != 24 {
		t.Fatalf("%+v", f)
	}
	f, _ = frame.Decode(frame.ProcessResize(100, 30))
	if f.Columns != 100 || f.Rows != 30 || f.Cols != 0 {
		t.Fatalf("%+v", f)
	}
	f, _ = frame.Decode(frame.Probe("liveness-1"))
	if f.Type != frame.TypeFSWatchUnsubscribe || string(f.ReqID) != `"liveness-1"` {
		t.Fatalf("%+v", f)
	}
	if got := string(frame.ProbeResult(f.ReqID)); got != `{"type":"fs-watch-unsubscribe-result","ok":true,"removed":0,"reqId":"liveness-1"}` {
		t.Fatal(got)
	}
}

func TestCarry(t *testing.T) {
	text := []byte("héllo 😀 ✓ wörld")
	// Every split of the text into two reads comes out whole.
	for cut := 0; cut <= len(text); cut++ {
		var c frame.Carry
		out := c.Append(nil, text[:cut])
		if !utf8.Valid(out) {
			t.Fatalf("cut %d: first part %q is not valid", cut, out)
		}
		out = c.Append(out, text[cut:])
		if !bytes.Equal(out, text) || c.Pending() != 0 {
			t.Fatalf("cut %d: %q pending %d", cut, out, c.Pending())
		}
	}
	// One byte at a time.
	var c frame.Carry
	var out []byte
	for i := range text {
		out = c.Append(out, text[i:i+1])
	}
	if !bytes.Equal(out, text) {
		t.Fatalf("%q", out)
	}
	// Invalid sequences are not held forever.
	c = frame.Carry{}
	out = c.Append(nil, []byte("\xe2\x82"))
	out = c.Append(out, []byte("a"))
	if string(out) != "\xe2\x82a" || c.Pending() != 0 {
		t.Fatalf("%q", out)
	}
	out = c.Append(nil, []byte("x\xf0\x9f"))
	if string(out) != "x" || c.Pending() != 2 {
		t.Fatalf("%q %d", out, c.Pending())
	}
	if out = c.Flush(out); string(out) != "x\xf0\x9f" || c.Pending() != 0 {
		t.Fatalf("%q", out)
	}
	if got := c.Append(nil, []byte(strings.Repeat("\x80", 5))); len(got) != 5 {
		t.Fatalf("stray continuation bytes pass through: %q", got)
	}
}
