package sandboxserver_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

func TestDecodeBody(t *testing.T) {
	obj, err := sandboxserver.DecodeBody([]byte(`{"args":[{"__nimbusWireType":"bytes","base64":"AP8="},{"a":{"__nimbusWireType":"bytes","base64":""}},{"__nimbusWireType":"bytes","base64":"!!"},1.50]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"args": []any{
		[]byte{0, 0xff},
		map[string]any{"a": []byte{}},
		map[string]any{"__nimbusWireType": "bytes", "base64": "!!"},
		json.Number("1.50"),
	}}
	if !reflect.DeepEqual(obj, want) {
		t.Fatalf("%#v", obj)
	}
	for in, msg := range map[string]string{
		``:      "EOF",
		`[]`:    "body must be a JSON object",
		`{}x`:   "unexpected data after the JSON value",
		`{"a":`: "unexpected EOF",
		`{"__nimbusWireType":"bytes","base64":"AA=="}`: "body must be a JSON object",
	} {
		if _, err := sandboxserver.DecodeBody([]byte(in)); err == nil || err.Error() != msg {
			t.Errorf("%q: %v, want %s", in, err, msg)
		}
	}
}

func TestEncodeWire(t *testing.T) {
	in := map[string]any{"b": []byte("x"), "l": []any{[]byte{}}, "n": []any(nil), "m": map[string]any(nil)}
	got, err := json.Marshal(sandboxserver.EncodeWire(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"b":{"__nimbusWireType":"bytes","base64":"eA=="},"l":[{"__nimbusWireType":"bytes","base64":""}],"m":null,"n":null}` {
		t.Fatal(string(got))
	}
	if _, ok := in["b"].([]byte); !ok {
		t.Fatal("EncodeWire changed its input")
	}
}

// FuzzDecodeBody checks that any body either fails cleanly or decodes to
// an object whose bytes survive a round trip through EncodeWire.
func FuzzDecodeBody(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "seed", "*.json"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		obj, err := sandboxserver.DecodeBody(body)
		if err != nil {
			return
		}
		out, err := json.Marshal(sandboxserver.EncodeWire(obj))
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := sandboxserver.DecodeBody(out)
		if err != nil {
			t.Fatalf("re-decode %s: %v", out, err)
		}
		out2, _ := json.Marshal(sandboxserver.EncodeWire(again))
		if !bytes.Equal(out, out2) {
			t.Fatalf("not stable: %s vs %s", out, out2)
		}
	})
}
