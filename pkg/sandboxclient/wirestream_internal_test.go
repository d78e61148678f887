package sandboxclient

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
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
		env, _, err := decodeBytesEnvelope(bufio.NewReader(strings.NewReader(body)), &out, math.MaxInt64)
		if err != nil || env.ok == nil || !*env.ok || !env.found || env.wireType != "bytes" || !bytes.Equal(out.Bytes(), payload) {
			t.Fatalf("%s: env %+v err %v out %x", name, env, err, out.Bytes())
		}
	}
	// Bigger than one decoding step, with escapes across its boundaries.
	big := bytes.Repeat([]byte{0xfb, 0xff, 0xbf, 1}, 100000)
	bigB64 := strings.ReplaceAll(base64.StdEncoding.EncodeToString(big), "/", `\/`)
	var out bytes.Buffer
	if _, _, err := decodeBytesEnvelope(bufio.NewReaderSize(strings.NewReader(`{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"`+bigB64+`"}}`), 1000), &out, math.MaxInt64); err != nil || !bytes.Equal(out.Bytes(), big) {
		t.Fatalf("big: %v, %d bytes", err, out.Len())
	}
	for name, body := range map[string]string{
		"null":   `{"ok":true,"result":null}`,
		"absent": `{"ok":true}`,
	} {
		env, _, err := decodeBytesEnvelope(bufio.NewReader(strings.NewReader(body)), &bytes.Buffer{}, math.MaxInt64)
		if err != nil || env.found {
			t.Fatalf("%s: %+v %v", name, env, err)
		}
	}
	for name, body := range map[string]string{
		"truncated":   `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"AP8`,
		"bad base64":  `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"A*=="}}`,
		"short quad":  `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"AP8"}}`,
		"not object":  `["ok"]`,
		"bad literal": `{"ok":tru#}`,
		"number res":  `{"ok":true,"result":5}`,
	} {
		if _, _, err := decodeBytesEnvelope(bufio.NewReader(strings.NewReader(body)), &bytes.Buffer{}, math.MaxInt64); err == nil {
			t.Fatalf("%s: no error", name)
		}
	}
}

// TestDecodeBytesEnvelopeWritesOnlyGoodAnswers: a key given twice is
// refused (encoding/json keeps the last, a streaming decoder would have
// used the first), and a bad answer writes nothing to the caller, whatever
// comes first: the failure, the bytes, or trailing junk.
func TestDecodeBytesEnvelopeWritesOnlyGoodAnswers(t *testing.T) {
	a, b := base64.StdEncoding.EncodeToString([]byte("first")), base64.StdEncoding.EncodeToString([]byte("second"))
	bad := map[string]string{
		"base64 twice":       `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"` + a + `","base64":"` + b + `"}}`,
		"wire type twice":    `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"` + a + `","__nimbusWireType":"bytes"}}`,
		"result twice":       `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"` + a + `"},"result":null}`,
		"ok twice":           `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"` + a + `"},"ok":false}`,
		"code twice":         `{"ok":false,"code":"E_A","code":"E_B","error":"x"}`,
		"failure after":      `{"result":{"__nimbusWireType":"bytes","base64":"` + a + `"},"ok":false,"error":"late"}`,
		"no ok":              `{"result":{"__nimbusWireType":"bytes","base64":"` + a + `"}}`,
		"wire type after":    `{"ok":true,"result":{"base64":"` + a + `","__nimbusWireType":"text"}}`,
		"wire type missing":  `{"ok":true,"result":{"base64":"` + a + `"}}`,
		"bad base64 later":   `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"` + a + `","more":[}}`,
		"truncated":          `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"` + a + `"}`,
		"junk after":         `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"` + a + `"}} {"ok":true}`,
		"failure with bytes": `{"ok":false,"error":"ENOENT: x","result":{"__nimbusWireType":"bytes","base64":"` + a + `"}}`,
	}
	for name, body := range bad {
		var out bytes.Buffer
		env, written, err := decodeBytesEnvelope(bufio.NewReader(strings.NewReader(body)), &out, math.MaxInt64)
		if out.Len() != 0 || written != 0 {
			t.Errorf("%s: %q written (%d)", name, out.Bytes(), written)
		}
		if err == nil && env.good() {
			t.Errorf("%s: accepted as good: %+v", name, env)
		}
	}
	var ce *Error
	if _, _, err := decodeBytesEnvelope(bufio.NewReader(strings.NewReader(bad["base64 twice"])), io.Discard, math.MaxInt64); !errors.As(err, &ce) || ce.Code != CodeBadResponse || !strings.Contains(ce.Message, `repeats the key "base64"`) {
		t.Errorf("base64 twice: %v", err)
	}
}

// TestDecodeBytesEnvelopeHoldsThenStreams: an answer longer than
// holdLimit flows to the writer once its opening is known good, so memory
// stays bounded; one whose opening is not yet known is held (within max).
func TestDecodeBytesEnvelopeHoldsThenStreams(t *testing.T) {
	payload := bytes.Repeat([]byte{0xa5, 0, '\n'}, holdLimit)
	b64 := base64.StdEncoding.EncodeToString(payload)
	// A writer that records how much had arrived when the body was half read.
	for _, c := range []struct {
		name      string
		body      string
		earlyData bool
	}{
		{"ordered", `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"` + b64 + `"}}`, true},
		{"result first", `{"result":{"__nimbusWireType":"bytes","base64":"` + b64 + `"},"ok":true}`, false},
	} {
		var out bytes.Buffer
		body := strings.NewReader(c.body)
		// How much of the body had been read when the first bytes arrived.
		firstAt := int64(-1)
		w := writerFunc(func(p []byte) (int, error) {
			if firstAt < 0 {
				firstAt = body.Size() - int64(body.Len())
			}
			return out.Write(p)
		})
		env, written, err := decodeBytesEnvelope(bufio.NewReaderSize(body, 4096), w, int64(len(payload)))
		if err != nil || !env.good() || !bytes.Equal(out.Bytes(), payload) || written != int64(len(payload)) {
			t.Fatalf("%s: err %v env %+v, %d of %d bytes", c.name, err, env, out.Len(), len(payload))
		}
		if early := firstAt < int64(len(c.body))/2; early != c.earlyData {
			t.Errorf("%s: first bytes written after %d of %d body bytes; want early = %v", c.name, firstAt, len(c.body), c.earlyData)
		}
	}
	// Held data is still bounded by max.
	body := `{"result":{"__nimbusWireType":"bytes","base64":"` + b64 + `"},"ok":true}`
	if _, written, err := decodeBytesEnvelope(bufio.NewReader(strings.NewReader(body)), io.Discard, holdLimit); !errors.Is(err, errTooMuch) || written != 0 {
		t.Fatalf("over max: %v, %d written", err, written)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func FuzzDecodeBytesEnvelope(f *testing.F) {
	f.Add([]byte(`{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"AP8="}}`))
	f.Add([]byte(`{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"aGVs\/bA=="},"x":[1,{"y":"\u00e9"}]}`))
	f.Add([]byte(`{"ok":false,"error":"ENOENT: x","code":"E_NIMBUS_REMOTE_RPC"}`))
	f.Add([]byte(`{"ok":true}`))
	f.Add([]byte(`{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"AP8=","base64":"aGk="}}`))
	f.Add([]byte(`{"result":{"__nimbusWireType":"bytes","base64":"AP8="},"ok":false,"error":"late"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var out bytes.Buffer
		// One byte per read: every token is split across reads.
		env, written, err := decodeBytesEnvelope(bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(body)), 16), &out, math.MaxInt64)
		if written != int64(out.Len()) {
			t.Fatalf("written %d, the writer got %d", written, out.Len())
		}
		if (err != nil || !env.good()) && out.Len() > 0 {
			// A bad answer shorter than holdLimit never reaches the writer.
			t.Fatalf("%d bytes written for a bad answer (err %v, env %+v)", out.Len(), err, env)
		}
		ok, found, data, valid := referenceDecode(body)
		if err != nil || !valid {
			// Either may be stricter about odd inputs; neither may panic.
			return
		}
		if (env.ok == nil) != (ok == nil) || (ok != nil && *env.ok != *ok) {
			t.Fatalf("ok mismatch")
		}
		if env.found != found || (found && env.good() && !bytes.Equal(out.Bytes(), data)) {
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

// TestDecodeBase64Blocks: the block decoder agrees with base64.StdEncoding
// wherever its blocks end: line breaks are ignored (as base64.NewDecoder
// does), and text after padding is refused even when the padding ends a
// block.
func TestDecodeBase64Blocks(t *testing.T) {
	payload := bytes.Repeat([]byte{0xfb, 0xff, 0xbf, 1, 2}, 60000)
	enc := base64.StdEncoding.EncodeToString(payload)
	var wrapped strings.Builder
	for i := 0; i < len(enc); i += 76 {
		wrapped.WriteString(enc[i:min(i+76, len(enc))])
		wrapped.WriteString("\r\n")
	}
	for name, text := range map[string]string{"plain": enc, "wrapped": wrapped.String()} {
		var out bytes.Buffer
		if err := decodeBase64(&out, strings.NewReader(text), math.MaxInt64); err != nil || !bytes.Equal(out.Bytes(), payload) {
			t.Fatalf("%s: %v, %d of %d bytes", name, err, out.Len(), len(payload))
		}
	}
	// 98302 bytes encode to exactly one block ending in "==".
	first := base64.StdEncoding.EncodeToString(payload[:98302])
	if len(first) != base64Chunk || !strings.HasSuffix(first, "==") {
		t.Fatalf("setup: %d chars", len(first))
	}
	for name, text := range map[string]string{
		"after a block": first + "AAAA",
		"in a block":    "AA==AAAA",
	} {
		if _, refErr := base64.StdEncoding.DecodeString(text); refErr == nil {
			t.Fatalf("%s: the reference accepts it", name)
		}
		if err := decodeBase64(io.Discard, strings.NewReader(text), math.MaxInt64); err == nil {
			t.Fatalf("%s: accepted", name)
		}
	}
	// A small answer decodes in a small block.
	var out bytes.Buffer
	if err := decodeBase64(&out, strings.NewReader("aGk="), 2); err != nil || out.String() != "hi" {
		t.Fatalf("small: %v %q", err, out.String())
	}
}
