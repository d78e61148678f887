package sandboxserver_test

import (
	"encoding/json"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

func TestValidAppName(t *testing.T) {
	for name, want := range map[string]bool{
		"web": true, "my-app": true, "a": true, "app2": true, "0x": true, "8080a": true,
		"0123456789abcdef0123456g": true, "0123456789abcdef012345678": true,
		"": false, "Web": false, "my_app": false, "-web": false, "web-": false, "a--b": false,
		"8080": false, "0123456789abcdef01234567": false, "a.b": false, "ü": false,
		"a23456789012345678901234567890123456789012345678901234567890123":  true,
		"a234567890123456789012345678901234567890123456789012345678901234": false,
	} {
		if got := sandboxserver.ValidAppName(name); got != want {
			t.Errorf("%q: %v", name, got)
		}
	}
}

func TestAppTarget(t *testing.T) {
	for _, c := range []struct {
		arg  any
		want sandboxserver.AppTarget
		desc string
		err  string
	}{
		{json.Number("3000"), sandboxserver.AppTarget{Kind: "number", Num: 3000}, "target 3000", ""},
		{json.Number("1.5"), sandboxserver.AppTarget{Kind: "number", Num: 1.5}, "target 1.5", ""},
		{"web", sandboxserver.AppTarget{Kind: "string", Str: "web"}, "'web'", ""},
		{map[string]any{"port": "3000", "name": "x"}, sandboxserver.AppTarget{Kind: "port", Num: 3000}, "port 3000", ""},
		{map[string]any{"pid": json.Number("7"), "owner": "o"}, sandboxserver.AppTarget{Kind: "pid", Num: 7}, "pid 7", ""},
		{map[string]any{"name": "web", "owner": "o"}, sandboxserver.AppTarget{Kind: "name", Str: "web"}, "app 'web'", ""},
		{map[string]any{"owner": "o"}, sandboxserver.AppTarget{Kind: "owner", Str: "o"}, "owner 'o'", ""},
		{map[string]any{"port": nil}, sandboxserver.AppTarget{Kind: "port", Num: 0}, "port 0", ""},
		{map[string]any{"port": "x"}, sandboxserver.AppTarget{}, "", "port must be a number"},
		{map[string]any{"owner": nil}, sandboxserver.AppTarget{}, "", "owner must be a string"},
		{map[string]any{"other": 1}, sandboxserver.AppTarget{}, "", "Nimbus app target must be a port, a pid, a name, or { port | pid | name | owner }"},
		{true, sandboxserver.AppTarget{}, "", "Nimbus app target must be a port, a pid, a name, or { port | pid | name | owner }"},
		{nil, sandboxserver.AppTarget{}, "", "Nimbus app target must be a port, a pid, a name, or { port | pid | name | owner }"},
	} {
		c2 := &sandboxserver.Call{Args: []any{c.arg}}
		got, err := c2.AppTarget(0)
		if c.err != "" {
			if err == nil || err.Code != "E_ARG_SHAPE" || err.Message != c.err {
				t.Errorf("%v: %v", c.arg, err)
			}
			continue
		}
		if err != nil || got != c.want || got.String() != c.desc {
			t.Errorf("%v: %+v %q %v", c.arg, got, got.String(), err)
		}
	}
}
