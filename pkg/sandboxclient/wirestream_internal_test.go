package sandboxclient

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// reference decodes an envelope with encoding/json, the non-streaming way.
func referenceDecode(body []byte) (ok *bool, found bool, data []byte, valid bool) {
	var env struct {
		OK     *bool           `json:"ok"`
		Result json.RawMessage `json:"result"`
	}
	if json.Unmarshal(body, &env) != nil {
		return nil, false, nil, false
	}
	if len(env.Result) == 0 || string(env.Result) == "null" {
		return env.OK, false, nil, true
	}
	var b Bytes
	if b.UnmarshalJSON(env.Result) != nil {
		return env.OK, false, nil, false
	}
	return env.OK, true, b, true
}

func TestDecodeBytesEnvelopeQuirks(t *testing.T) {
	payload := []byte{0, 0xff, '/', '?', 0x80, 1, 2, 3}
	b64 := base64.StdEncoding.EncodeToString(payload)
	cases := map[string]string{
		"plain":           `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"` + b64 + `"}}`,
		"escaped slashes": `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"` + strings.ReplaceAll(b64, "/", `\/`) + `"}}`,
		"unicode escapes": `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"` + strings.ReplaceAll(b64, "A", `\u0041`) + `"}}`,
		"extra fields":    `{"ok" : true , "rpcMs": 12.5e0, "future": {"a":[1,"x",{"y":null}],"b":false}, "result": {"base64":"` + b64 + `", "__nimbusWireType":"bytes", "more":[true]}}`,
		"result first":    `{"result":{"__nimbusWireType":"bytes","base64":"` + b64 + `"},"ok":true}`,
		"whitespace":      "\n{\n\t\"ok\": true,\r\n \"result\": {\"__nimbusWireType\" : \"bytes\" , \"base64\" : \"" + b64 + "\" } }\n",
	}
	for name, body := range cases {
		var out bytes.Buffer
		env, err := decodeBytesEnvelope(bufio.NewReader(strings.NewReader(body)), &out)
		if err != nil || env.ok == nil || !*env.ok || !env.found || env.wireType != "bytes" || !bytes.Equal(out.Bytes(), payload) {
			t.Fatalf("%s: env %+v err %v out %x", name, env, err, out.Bytes())
		}
	}
	for name, body := range map[string]string{
		"null":   `{"ok":true,"result":null}`,
		"absent": `{"ok":true}`,
	} {
		env, err := decodeBytesEnvelope(bufio.NewReader(strings.NewReader(body)), &bytes.Buffer{})
		if err != nil || env.found {
			t.Fatalf("%s: %+v %v", name, env, err)
		}
	}
	for name, body := range map[string]string{
		"truncated":   `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"AP8`,
		"bad base64":  `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"A*=="}}`,
		"not object":  `["ok"]`,
		"bad literal": `{"ok":tru#}`,
		"number res":  `{"ok":true,"result":5}`,
	} {
		if _, err := decodeBytesEnvelope(bufio.NewReader(strings.NewReader(body)), &bytes.Buffer{}); err == nil {
			t.Fatalf("%s: no error", name)
		}
	}
}

func FuzzDecodeBytesEnvelope(f *testing.F) {
	f.Add([]byte(`{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"AP8="}}`))
	f.Add([]byte(`{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"aGVs\/bA=="},"x":[1,{"y":"\u00e9"}]}`))
	f.Add([]byte(`{"ok":false,"error":"ENOENT: x","code":"E_NIMBUS_REMOTE_RPC"}`))
	f.Add([]byte(`{"ok":true}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var out bytes.Buffer
		// One byte per read: every token is split across reads.
		env, err := decodeBytesEnvelope(bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(body)), 16), &out)
		ok, found, data, valid := referenceDecode(body)
		if err != nil || !valid {
			// Either may be stricter about odd inputs; neither may panic.
			return
		}
		if (env.ok == nil) != (ok == nil) || (ok != nil && *env.ok != *ok) {
			t.Fatalf("ok mismatch")
		}
		if env.found != found || (found && !bytes.Equal(out.Bytes(), data)) {
			t.Fatalf("data mismatch: streamed %x, reference %x", out.Bytes(), data)
		}
	})
}

// splitReader hands out its data in pieces whose sizes cycle through
// sizes, so a value is split at every kind of boundary.
type splitReader struct {
	data  []byte
	sizes []byte
	i     int
}

func (r *splitReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(r.sizes) > 0 {
		n = int(r.sizes[r.i%len(r.sizes)])%7 + 1
		r.i++
	}
	n = min(n, len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// jsonDepth returns the nesting depth of valid JSON.
func jsonDepth(b []byte) int {
	dec := json.NewDecoder(bytes.NewReader(b))
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return deepest
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			deepest = max(deepest, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// FuzzScannerSkip feeds arbitrary bytes, split into arbitrary pieces, to
// the skipper the bytes envelope uses for fields it does not know: it
// must never panic or recurse, must accept every valid JSON value within
// its depth bound and consume exactly that value, and must refuse deeper
// ones with errTooDeep.
func FuzzScannerSkip(f *testing.F) {
	f.Add([]byte(`{"a":[1,"x",{"y":null}],"b":false}`), []byte{3})
	f.Add([]byte(`[[[[[]]]]]`), []byte{0, 1, 2})
	f.Add([]byte(strings.Repeat("[", maxSkipDepth+1)+strings.Repeat("]", maxSkipDepth+1)), []byte{6})
	f.Add([]byte(strings.Repeat(`{"k":`, 300)+"1"+strings.Repeat("}", 300)), []byte{5, 1})
	f.Add([]byte(`"\u00e9\"\\"`), []byte{})
	f.Add([]byte(`{"a" 1}`), []byte{1})
	f.Fuzz(func(t *testing.T, body, sizes []byte) {
		sc := &streamScanner{br: bufio.NewReaderSize(&splitReader{data: body, sizes: sizes}, 16)}
		err := sc.skip()
		if !json.Valid(body) {
			return // the skipper may be laxer than the grammar, never harmful
		}
		if d := jsonDepth(body); d > maxSkipDepth {
			if !errors.Is(err, errTooDeep) {
				t.Fatalf("depth %d: err = %v, want errTooDeep", d, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("valid JSON refused: %v", err)
		}
		rest, _ := io.ReadAll(sc.br)
		if len(bytes.TrimSpace(rest)) != 0 {
			t.Fatalf("%d bytes left after the value", len(rest))
		}
	})
}
