package sandboxclient

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
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
	// Bigger than one decoding step, with escapes across its boundaries.
	big := bytes.Repeat([]byte{0xfb, 0xff, 0xbf, 1}, 100000)
	bigB64 := strings.ReplaceAll(base64.StdEncoding.EncodeToString(big), "/", `\/`)
	var out bytes.Buffer
	if _, err := decodeBytesEnvelope(bufio.NewReaderSize(strings.NewReader(`{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"`+bigB64+`"}}`), 1000), &out); err != nil || !bytes.Equal(out.Bytes(), big) {
		t.Fatalf("big: %v, %d bytes", err, out.Len())
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
		"short quad":  `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"AP8"}}`,
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
		env, err := decodeBytesEnvelope(bufio.NewReaderSize(bytes.NewReader(body), 16), &out)
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
