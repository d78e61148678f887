package mcpserver

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
)

// FuzzFramer checks the framer against the decoder the SDK reads its
// input with (encoding/json's Decoder over the whole stream): fed the
// same input line by line, it finds the same messages, byte for byte, up
// to the first the decoder refuses (which ends the session, and every
// wait with it). A message it found that the SDK does not read as one
// would be waited for in vain at the end of the input; one it missed
// would be cancelled there unanswered.
func FuzzFramer(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":3,"method":"x"}` + "\n",
		"{\n  \"jsonrpc\": \"2.0\", \"id\": 2,\n  \"params\": {\"s\": \"echo two\\n}{\"}\n}\n{\"id\":5,\"method\":\"x\"}\n",
		`[{"id":3,"method":"x"},` + "\n" + ` {"id":4,"method":"x","params":{"s":"]\"["}}]` + "\n",
		`{"a":"\\"}{"b":"\\\""}` + "\r\n" + `  {"c":[1,{"d":"}"}]}`,
		`{"s":"a` + "\n" + `b"}` + "\n" + `{"id":1,"method":"x"}`,
		`{"a":1 2}` + "\n" + `{"id":1,"method":"x"}` + "\n",
		`3` + "\n" + `{"id":1,"method":"x"}` + "\n",
		`{"a":"\u0022}"}` + "\n",
		"\n\n  \t{}\n[]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fr framer
		var got [][]byte
		for rest := data; len(rest) > 0; {
			n := bytes.IndexByte(rest, '\n') + 1
			if n == 0 {
				n = len(rest)
			}
			fr.feed(rest[:n], func(scan *idScan, msg []byte) {
				if (scan == nil) != (msg[0] == '[') {
					t.Fatalf("%q: scan %v for a message starting %q", data, scan, msg[0])
				}
				got = append(got, bytes.Clone(msg))
			})
			rest = rest[n:]
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		var want []json.RawMessage
		var err error
		for {
			var raw json.RawMessage
			if err = dec.Decode(&raw); err != nil {
				break
			}
			if raw[0] != '{' && raw[0] != '[' {
				// Not a message: the SDK ends the session on it.
				if !fr.lost {
					t.Fatalf("%q: the framer goes on after %q", data, raw)
				}
				err = nil
				break
			}
			want = append(want, raw)
		}
		if len(got) < len(want) {
			t.Fatalf("%q: the framer found %d messages %q, the decoder %d %q", data, len(got), got, len(want), want)
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("%q: message %d is %q to the framer, %q to the decoder", data, i, got[i], want[i])
			}
		}
		if err == io.EOF && len(got) != len(want) {
			t.Fatalf("%q: the framer found %q after the decoder's last message", data, got[len(want):])
		}
	})
}
