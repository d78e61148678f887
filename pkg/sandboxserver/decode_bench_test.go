package sandboxserver_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

// BenchmarkReadBodyWrite decodes a 20 MiB writeFile request (the body of
// one part of a big upload): the server's cost per uploaded byte. The floor
// is the base64 decoding alone.
func BenchmarkReadBodyWrite(b *testing.B) {
	data := bytes.Repeat([]byte{0, 0xff, 'x', 0x80, 7}, 4<<20)
	body := []byte(`{"profile":"default","root":"/home/user","op":"writeFile","args":["/home/user/.nimbus-0123456789ab-000000",{"__nimbusWireType":"bytes","base64":"` + base64.StdEncoding.EncodeToString(data) + `"}]}`)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		v, err := sandboxserver.ReadBody(bytes.NewReader(body))
		if err != nil || len(v) != 4 {
			b.Fatal(err)
		}
	}
}

func BenchmarkBase64DecodeFloor(b *testing.B) {
	data := bytes.Repeat([]byte{0, 0xff, 'x', 0x80, 7}, 4<<20)
	text := []byte(base64.StdEncoding.EncodeToString(data))
	out := make([]byte, len(data))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := base64.StdEncoding.Decode(out, text); err != nil {
			b.Fatal(err)
		}
	}
}

// A raw line break inside the base64 text of a big write is a JSON error
// (control characters must be escaped in strings), although the base64
// decoder itself would skip it (four of them keep its groups aligned).
func TestRawLineBreakInBase64IsRefused(t *testing.T) {
	text := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1, 2, 3}, 100<<10))
	for _, lb := range []string{"\n", "\r", "\r\n", "\n\n\n\n", "\r\n\r\n"} {
		for _, at := range []int{4, 64 << 10, len(text) - 4} {
			body := `{"op":"writeFile","args":["/f",{"__nimbusWireType":"bytes","base64":"` + text[:at] + lb + text[at:] + `"}]}`
			_, err := sandboxserver.ReadBody(bytes.NewReader([]byte(body)))
			var be *sandboxserver.BodyError
			if !errors.As(err, &be) || !strings.Contains(err.Error(), "invalid character") {
				t.Errorf("line break %q at %d: err = %v", lb, at, err)
			}
		}
	}
}
