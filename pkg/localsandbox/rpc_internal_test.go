package localsandbox

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestReadyResultJSON: ready's own encoding says what encoding/json says,
// byte for byte for plain text, and the same values for any text.
func TestReadyResultJSON(t *testing.T) {
	for _, r := range []readyResult{
		{OK: true, Preinstalled: []string{}},
		{OK: true, Preinstalled: []string{"python@3.12", "node"}},
		{OK: false},
		{OK: true, Preinstalled: []string{}, Diagnostics: []string{"host paths (no user namespaces): pwd prints the sandbox's directory"}},
		{OK: true, Preinstalled: []string{"q\"uo\\te", "ctl\x01\n\t", "<html>&", "bad\xffutf8", "\u2028"}, Diagnostics: []string{"a", "b"}},
	} {
		got := r.AppendJSON([]byte("x"))[1:]
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var gv, wv any
		if err := json.Unmarshal(got, &gv); err != nil {
			t.Fatalf("%s: %v", got, err)
		}
		if err := json.Unmarshal(want, &wv); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gv, wv) {
			t.Errorf("AppendJSON %s, encoding/json %s", got, want)
		}
		plain := true
		for _, s := range append(append([]string{}, r.Preinstalled...), r.Diagnostics...) {
			for i := 0; i < len(s); i++ {
				if s[i] < 0x20 || s[i] >= 0x7f || s[i] == '<' || s[i] == '>' || s[i] == '&' {
					plain = false
				}
			}
		}
		if plain && string(got) != string(want) {
			t.Errorf("AppendJSON %s, encoding/json %s", got, want)
		}
	}
}
