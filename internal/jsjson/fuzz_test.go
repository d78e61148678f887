package jsjson

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzParse checks the hand-written parser against encoding/json on
// validity, and that Marshal(Parse(x)) parses back to the same value.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"scope":"nimbus","tn":"acme","iat":1,"exp":2.5e3}`, `[1,"\u2028",{"a":null}]`, `{"a":1,"a":2}`, `"\ud83d\ude00"`, `{"1":1,"b":2,"0":3}`, ` 1e400 `, `tru`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		text := []byte(DecodeUTF8(data))
		v, err := Parse(text)
		if bytes.Count(text, []byte("["))+bytes.Count(text, []byte("{")) < maxDepth {
			if valid := json.Valid(text); valid != (err == nil) {
				t.Fatalf("Parse(%q) err = %v, but encoding/json says valid = %v", text, err, valid)
			}
		}
		top, terr := ParseTop(text)
		if (terr == nil) != (err == nil) {
			t.Fatalf("ParseTop(%q) err = %v, Parse err = %v", text, terr, err)
		}
		if err != nil {
			return
		}
		if top.Kind != v.Kind {
			t.Fatalf("ParseTop kind %v, Parse kind %v", top.Kind, v.Kind)
		}
		if v.Kind == Object && !bytes.Equal(Marshal(top.ToValue()), Marshal(v)) {
			t.Fatalf("ParseTop members %q differ from Parse %q", Marshal(top.ToValue()), Marshal(v))
		}
		out := Marshal(v)
		v2, err := Parse(out)
		if err != nil {
			t.Fatalf("Marshal output %q does not parse: %v", out, err)
		}
		if !bytes.Equal(Marshal(v2), out) {
			t.Fatalf("round trip changed %q to %q", out, Marshal(v2))
		}
		if !json.Valid(MarshalIndent(v, "  ")) {
			t.Fatalf("MarshalIndent output invalid for %q", text)
		}
	})
}
