package frame_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/terminal/frame"
)

// terminalOutput is typical full-screen output: text, colours, cursor
// moves, line ends and some non-ASCII.
var terminalOutput = []byte(strings.Repeat("\x1b[1;32muser@host\x1b[0m:\x1b[34m~/app\x1b[0m$ ls -la\r\ndrwxr-xr-x  5 user user 4096 déc.  3 10:00 .\r\n\x1b[2K\x1b[10;1H", 400))

// BenchmarkAppendOutput encodes an output frame (the server's hot path);
// BenchmarkAppendOutputEncodingJSON is the floor it replaced, encoding/json
// on the same bytes.
func BenchmarkAppendOutput(b *testing.B) {
	b.SetBytes(int64(len(terminalOutput)))
	var buf []byte
	for b.Loop() {
		buf = frame.AppendOutput(buf[:0], terminalOutput)
	}
}

func BenchmarkAppendOutputEncodingJSON(b *testing.B) {
	b.SetBytes(int64(len(terminalOutput)))
	for b.Loop() {
		_, _ = json.Marshal(struct {
			Type string `json:"type"`
			Data string `json:"data"`
		}{"output", string(terminalOutput)})
	}
}

// BenchmarkDecodeOutput decodes what BenchmarkAppendOutput encodes (the
// client's hot path).
func BenchmarkDecodeOutput(b *testing.B) {
	msg := frame.AppendOutput(nil, terminalOutput)
	b.SetBytes(int64(len(terminalOutput)))
	for b.Loop() {
		if _, err := frame.Decode(msg); err != nil {
			b.Fatal(err)
		}
	}
}
