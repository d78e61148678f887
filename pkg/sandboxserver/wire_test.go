package sandboxserver_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

func TestDecodeBody(t *testing.T) {
	obj, err := sandboxserver.DecodeBody([]byte(`{"args":[{"__nimbusWireType":"bytes","base64":"AP8="},{"a":{"__nimbusWireType":"bytes","base64":""}},{"__nimbusWireType":"bytes","base64":"!!"},1.50,{"base64":"aGk=","x":"\u00e9\ud83d\ude00\ud800"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"args": []any{
		[]byte{0, 0xff},
		map[string]any{"a": []byte{}},
		map[string]any{"__nimbusWireType": "bytes", "base64": "!!"},
		json.Number("1.50"),
		map[string]any{"base64": "aGk=", "x": "é😀\uFFFD"},
	}}
	if !reflect.DeepEqual(obj, want) {
		t.Fatalf("%#v", obj)
	}
	for in, msg := range map[string]string{
		``:                 "empty body",
		`  `:               "empty body",
		`[]`:               "body must be a JSON object",
		`"x"`:              "body must be a JSON object",
		`{}x`:              "unexpected data after the JSON value",
		`{"a":`:            "unexpected end of JSON input",
		`{"a":01}`:         "invalid character '1' after object key:value pair",
		"{\"a\":\"\x01\"}": "invalid character '\\x01' in string literal",
		`{"a":"\q"}`:       "invalid character 'q' in string escape code",
		`{"a":"\u12x4"}`:   "invalid character 'x' in \\u hexadecimal character escape",
		`{"a":tru}`:        "invalid character '}' in literal true (expecting 'e')",
		`{"a":-}`:          "invalid character '}' in numeric literal",
		`{"a":1,"a":2}`:    `duplicate key "a"`,
		`{"__nimbusWireType":"bytes","base64":"AA=="}`: "body must be a JSON object",
		// The bytes of a wire object are never chosen by the last of two
		// "base64" members.
		`{"args":[{"__nimbusWireType":"bytes","base64":"AA==","base64":"AQ=="}]}`: `duplicate key "base64"`,
		`{"a":` + strings.Repeat("[", sandboxserver.MaxDepth+1) + `}`:             "exceeded max depth",
		`{"a":[` + strings.Repeat("0,", sandboxserver.MaxValues) + `0]}`:          "more than 100000 values",
	} {
		_, err := sandboxserver.DecodeBody([]byte(in))
		if err == nil || err.Error() != msg || !sandboxserver.IsBodyError(err) {
			t.Errorf("%.40q: %v, want %s", in, err, msg)
		}
		if _, err := sandboxserver.DecodeEnvelope([]byte(in)); err == nil || err.Error() != msg || !sandboxserver.IsBodyError(err) {
			t.Errorf("handler's decoder: %.40q: %v, want %s", in, err, msg)
		}
	}
}

// TestReadBodyPassesReadErrors: a failure to read (a size limit, a
// timeout) is not reported as bad JSON.
func TestReadBodyPassesReadErrors(t *testing.T) {
	boom := errors.New("boom")
	_, err := sandboxserver.ReadBody(io.MultiReader(strings.NewReader(`{"op":"writeFile","args":["/a",{"__nimbusWireType":"bytes","base64":"AAAA`), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) || sandboxserver.IsBodyError(err) {
		t.Fatal(err)
	}
}

// TestReadBodyLargeBytes decodes a bytes object of several windows
// through a reader that returns one byte at a time, canonical or not.
func TestReadBodyLargeBytes(t *testing.T) {
	data := make([]byte, 100003)
	for i := range data {
		data[i] = byte(i * 7)
	}
	text := base64.StdEncoding.EncodeToString(data)
	for name, enc := range map[string]string{
		"canonical":    text,
		"escaped":      strings.ReplaceAll(text, "/", `\/`),
		"line breaks":  text[:40000] + `\r\n` + text[40000:],
		"nonzero bits": text[:len(text)-2] + "Z=",
	} {
		body := `{"op":"writeFile","args":["/a",{"base64":"` + enc + `","__nimbusWireType":"bytes"}]}`
		obj, err := sandboxserver.ReadBody(iotest.OneByteReader(strings.NewReader(body)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, err := base64.StdEncoding.DecodeString(strings.NewReplacer(`\/`, "/", `\r\n`, "").Replace(enc))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := obj["args"].([]any)[1].([]byte); !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes, want %d", name, len(got), len(want))
		}
	}
	// What atob accepts is accepted: no padding, white space anywhere.
	for name, enc := range map[string]string{
		"unpadded": strings.TrimRight(text, "="),
		"spaces":   " " + text[:8] + ` \t` + text[8:100] + `\n\f` + text[100:] + " ",
	} {
		obj, err := sandboxserver.DecodeBody([]byte(`{"a":{"__nimbusWireType":"bytes","base64":"` + enc + `"}}`))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := obj["a"].([]byte); !bytes.Equal(got, data) {
			t.Fatalf("%s: %T, want the bytes", name, obj["a"])
		}
	}
	// ...and what atob refuses stays text: a lone last character, padding
	// where none belongs, padding inside.
	for _, bad := range []string{"QUJDR", "QQ=", "QQ===", "QQ==QQ==", "Q=Q="} {
		obj, err := sandboxserver.DecodeBody([]byte(`{"a":{"__nimbusWireType":"bytes","base64":"` + bad + `"}}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := obj["a"].(map[string]any); !ok {
			t.Fatalf("%q decoded to %T", bad, obj["a"])
		}
	}
	// Text that is not base64 stays the text that was sent, however far
	// into it the first foreign byte is.
	for _, at := range []int{0, 1, 4, 16383, 16384, 16385, len(text) - 1} {
		bad := text[:at] + "!" + text[at:]
		obj, err := sandboxserver.DecodeBody([]byte(`{"a":{"__nimbusWireType":"bytes","base64":"` + bad + `"},"b":{"base64":"` + text + `"}}`))
		if err != nil {
			t.Fatal(err)
		}
		if got := obj["a"].(map[string]any)["base64"]; got != bad {
			t.Fatalf("at %d: the text changed", at)
		}
		if got := obj["b"].(map[string]any)["base64"]; got != text {
			t.Fatal("a base64 member outside a wire object changed")
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

// refDecode is the reference semantics of a body: encoding/json with
// UseNumber, then bytes wire objects replaced by their bytes.
func refDecode(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	obj, ok := fromWire(v).(map[string]any)
	if !ok {
		return nil, errors.New("not an object")
	}
	return obj, nil
}

func fromWire(v any) any {
	switch t := v.(type) {
	case map[string]any:
		// The Worker's WireDecoder: other members do not matter.
		if t["__nimbusWireType"] == "bytes" {
			if s, ok := t["base64"].(string); ok {
				if b, ok := refAtob(s); ok {
					return b
				}
			}
		}
		for k, e := range t {
			t[k] = fromWire(e)
		}
	case []any:
		for i, e := range t {
			t[i] = fromWire(e)
		}
	}
	return v
}

// refAtob follows the steps of WHATWG's forgiving-base64 decode (atob).
func refAtob(s string) ([]byte, bool) {
	s = strings.NewReplacer("\t", "", "\n", "", "\f", "", "\r", "", " ", "").Replace(s)
	if len(s)%4 == 0 {
		s = strings.TrimSuffix(s, "=")
		s = strings.TrimSuffix(s, "=")
	}
	if len(s)%4 == 1 || strings.ContainsFunc(s, func(r rune) bool {
		return !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", r)
	}) {
		return nil, false
	}
	for len(s)%4 != 0 {
		s += "="
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return b, err == nil
}

// hasDuplicateKeys reports whether some object of a valid JSON text has
// a member name twice.
func hasDuplicateKeys(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		obj    bool
		keys   map[string]bool
		expect bool // the next string is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				if top != nil && top.obj {
					top.expect = true
				}
				stack = append(stack, &frame{obj: true, keys: map[string]bool{}, expect: true})
				continue
			case '[':
				if top != nil && top.obj {
					top.expect = true
				}
				stack = append(stack, &frame{})
				continue
			default:
				stack = stack[:len(stack)-1]
				continue
			}
		case string:
			if top != nil && top.obj && top.expect {
				if top.keys[t] {
					return true
				}
				top.keys[t] = true
				top.expect = false
				continue
			}
		}
		if top != nil && top.obj {
			top.expect = true
		}
	}
}

// checkAgainstReference is the differential property: the streaming
// decoder accepts exactly what encoding/json accepts, minus duplicate
// member names and the value limit, and decodes it to the same value,
// whatever the chunking of the input.
func checkAgainstReference(t *testing.T, body []byte) {
	got, err := sandboxserver.DecodeBody(body)
	slow, serr := sandboxserver.ReadBody(iotest.OneByteReader(bytes.NewReader(body)))
	if (err == nil) != (serr == nil) || err == nil && !reflect.DeepEqual(got, slow) {
		t.Fatalf("chunking changed the result: %v / %v", err, serr)
	}
	// The rpc handler's decoder, which does not build the top level as a
	// map, decides and decodes the same.
	env, eerr := sandboxserver.DecodeEnvelope(body)
	if (err == nil) != (eerr == nil) || err != nil && err.Error() != eerr.Error() || err == nil && !reflect.DeepEqual(got, env) {
		t.Fatalf("the handler's decoder differs: %v / %v\n%#v\n%#v", err, eerr, got, env)
	}
	if err != nil && !sandboxserver.IsBodyError(err) {
		t.Fatalf("not a body error: %v", err)
	}
	want, rerr := refDecode(body)
	switch {
	case err == nil && rerr != nil:
		t.Fatalf("accepted what encoding/json refuses (%v): %#v", rerr, got)
	case err == nil && !reflect.DeepEqual(got, want):
		t.Fatalf("decoded\n%#v\nwant\n%#v", got, want)
	case err != nil && rerr == nil:
		if msg := err.Error(); !strings.HasPrefix(msg, "duplicate key ") && !strings.HasPrefix(msg, "more than ") && msg != "body must be a JSON object" {
			t.Fatalf("refused what encoding/json accepts: %v", err)
		}
		if strings.HasPrefix(err.Error(), "duplicate key ") && !hasDuplicateKeys(body) {
			t.Fatalf("duplicate key reported for %q", body)
		}
	}
}

// FuzzDecodeBody checks the request body decoder against encoding/json
// (see checkAgainstReference), and that what it accepts survives a round
// trip through EncodeWire.
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
		checkAgainstReference(t, body)
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

// FuzzBytesWireSizes builds bytes wire objects of hostile sizes and
// shapes: payloads from empty to several decode windows, a foreign,
// escaped or raw control byte at any offset, padding cut or misplaced, members in either
// order or repeated, the body cut anywhere. The decoder must agree with
// encoding/json on every one.
func FuzzBytesWireSizes(f *testing.F) {
	f.Add(uint32(0), uint32(0), byte(0), byte(0), uint32(0))
	f.Add(uint32(12287), uint32(16384), byte(1), byte(2), uint32(0))
	f.Add(uint32(12288), uint32(16383), byte(3), byte(1), uint32(100))
	f.Add(uint32(1<<20), uint32(500000), byte(2), byte(4), uint32(7))
	f.Fuzz(func(t *testing.T, size, at uint32, shape, order byte, cut uint32) {
		size %= 2 << 20
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i*31 + int(size))
		}
		text := base64.StdEncoding.EncodeToString(data)
		if len(text) > 0 {
			i := int(at) % (len(text) + 1)
			switch shape % 10 {
			case 1:
				text = text[:i] + `\/` + text[i:]
			case 2:
				text = text[:i] + `\n` + text[i:]
			case 3:
				text = text[:i] + "=" + text[i:]
			case 4:
				text = text[:i]
			case 5:
				text = text[:i] + `\u0041` + text[i:]
			case 6:
				text = text[:i] + "é" + text[i:]
			case 7:
				text = strings.TrimRight(text, "=")
			case 8:
				text = text[:i] + "\n" + text[i:] // raw: the base64 decoder would skip it
			case 9:
				text = text[:i] + "\r\n" + text[i:]
			}
		}
		members := []string{`"__nimbusWireType":"bytes"`, `"base64":"` + text + `"`}
		switch order % 5 {
		case 1:
			members[0], members[1] = members[1], members[0]
		case 2:
			members = append(members, `"extra":1`)
		case 3:
			members = append(members, `"base64":"AA=="`)
		case 4:
			members[0] = `"__nimbusWireType":"Bytes"`
		}
		body := []byte(`{"op":"writeFile","args":["/f",{` + strings.Join(members, ",") + `}]}`)
		if cut != 0 {
			body = body[:int(cut)%(len(body)+1)]
		}
		checkAgainstReference(t, body)
	})
}

// TestWriteOKBytesStreams: a bytes result is written as it is encoded, in
// the envelope's member order (ok, result, rpcMs), with its length.
func TestWriteOKBytesStreams(t *testing.T) {
	ms := int64(7)
	for _, size := range []int{0, 1, 2, 3, 49151, 49152, 49153, 200000} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i * 13)
		}
		for _, result := range []any{sandboxserver.Bytes(data), data} {
			for _, diag := range []*int64{nil, &ms} {
				rec := httptest.NewRecorder()
				sandboxserver.WriteOK(rec, result, true, diag)
				want := `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"` + base64.StdEncoding.EncodeToString(data) + `"}`
				if diag != nil {
					want += `,"rpcMs":7`
				}
				want += "}"
				if got := rec.Body.String(); got != want || rec.Code != 200 || rec.Header().Get("Content-Length") != strconv.Itoa(len(want)) || rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Content-Type") != "application/json" {
					t.Fatalf("size %d diag %v: %d %v %.80s", size, diag != nil, rec.Code, rec.Header(), got)
				}
			}
		}
	}
}
