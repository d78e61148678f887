package frame_test

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/terminal/frame"
)

// nodeVector is one entry of testdata/frames-node.json: the frames
// JSON.stringify writes for the text a TextDecoder reads from Hex (see
// testdata/gen/frames-node.js).
type nodeVector struct {
	Name   string `json:"name"`
	Hex    string `json:"hex"`
	Output string `json:"output"`
	Input  string `json:"input"`
	Probe  string `json:"probe"`
}

func readNodeVectors(t *testing.T) []nodeVector {
	t.Helper()
	raw, err := os.ReadFile("testdata/frames-node.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []nodeVector
	if err := json.Unmarshal(raw, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) < 50 {
		t.Fatalf("only %d vectors", len(vs))
	}
	return vs
}

// TestFramesMatchNode pins the encoded frames byte for byte to upstream's:
// every control character, quote, backslash, U+2028/2029 and invalid UTF-8
// (one U+FFFD per maximal subpart, as TextDecoder).
func TestFramesMatchNode(t *testing.T) {
	for _, v := range readNodeVectors(t) {
		in, err := hex.DecodeString(v.Hex)
		if err != nil {
			t.Fatal(err)
		}
		if got := frame.AppendOutput([]byte("stale"), in)[len("stale"):]; string(got) != v.Output {
			t.Errorf("%s: AppendOutput(%q) = %s, want %s", v.Name, in, got, v.Output)
		}
		if got := frame.Output(string(in)); string(got) != v.Output {
			t.Errorf("%s: Output(%q) = %s, want %s", v.Name, in, got, v.Output)
		}
		if got := frame.Input(string(in)); string(got) != v.Input {
			t.Errorf("%s: Input(%q) = %s, want %s", v.Name, in, got, v.Input)
		}
		if got := frame.Probe(string(in)); string(got) != v.Probe {
			t.Errorf("%s: Probe(%q) = %s, want %s", v.Name, in, got, v.Probe)
		}
	}
}

// TestCarriedFramesMatchNode: the server's path (Carry, then one output
// frame per read) gives the text upstream's streaming TextDecoder gives,
// wherever the reads split the bytes.
func TestCarriedFramesMatchNode(t *testing.T) {
	for _, v := range readNodeVectors(t) {
		in, _ := hex.DecodeString(v.Hex)
		var want struct{ Data string }
		if err := json.Unmarshal([]byte(v.Output), &want); err != nil {
			t.Fatal(err)
		}
		for cut := 0; cut <= len(in); cut++ {
			var c frame.Carry
			var text string
			for _, p := range [][]byte{c.Append(nil, in[:cut]), c.Append(nil, in[cut:]), c.Flush(nil)} {
				f, err := frame.Decode(frame.AppendOutput(nil, p))
				if err != nil {
					t.Fatal(err)
				}
				text += f.Data
			}
			if text != want.Data {
				t.Fatalf("%s: cut at %d reads %q, want %q", v.Name, cut, text, want.Data)
			}
		}
	}
}
