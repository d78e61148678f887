package sandboxserver_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

func TestNumber(t *testing.T) {
	ok := map[string]struct {
		v    any
		want float64
	}{
		"json":        {json.Number("1e3"), 1000},
		"string":      {" 42 ", 42},
		"empty":       {"", 0},
		"hex":         {"0x1F", 31},
		"true":        {true, 1},
		"false":       {false, 0},
		"null":        {nil, 0},
		"empty array": {[]any{}, 0},
		"one element": {[]any{"7"}, 7},
	}
	for name, c := range ok {
		if f, good := sandboxserver.Number(c.v, true); !good || f != c.want {
			t.Errorf("%s: %v %v", name, f, good)
		}
	}
	for name, v := range map[string]any{
		"word": "abc", "infinity": "Infinity", "nan": "NaN", "two elements": []any{1, 2},
		"object": map[string]any{}, "bytes": []byte{1}, "hex float": "0x1p3", "big": json.Number("1e999"),
	} {
		if _, good := sandboxserver.Number(v, true); good {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, good := sandboxserver.Number(nil, false); good {
		t.Error("absent accepted")
	}
}

func TestCallArgs(t *testing.T) {
	c := &sandboxserver.Call{Args: []any{"s", json.Number("3"), map[string]any{"cred": 1}, nil}}
	if s, err := c.Str(0, "path"); err != nil || s != "s" {
		t.Fatal(s, err)
	}
	if _, err := c.Str(1, "path"); err == nil || err.Status != 400 || err.Code != "E_ARG_SHAPE" || err.Message != "path must be a string" {
		t.Fatal(err)
	}
	if f, err := c.Num(1, "mode"); err != nil || f != 3 {
		t.Fatal(f, err)
	}
	if f, err := c.Num(3, "mode"); err != nil || f != 0 {
		t.Fatal("null is Number(null) = 0:", f, err)
	}
	if _, err := c.Num(4, "mode"); err == nil || err.Message != "mode must be a number" {
		t.Fatal("absent is undefined:", err)
	}
	if m := c.Obj(0); len(m) != 0 {
		t.Fatal(m)
	}
	if err := c.FileOpts(2); err == nil || err.Message != "cred is not accepted over the remote API" {
		t.Fatal(err)
	}
	if err := c.FileOpts(9); err != nil {
		t.Fatal(err)
	}
}

func TestValidators(t *testing.T) {
	for id, want := range map[string]bool{"a": true, "A.b_c-9": true, "": false, "a b": false, "a/b": false, "é": false} {
		if sandboxserver.ValidID(id) != want {
			t.Errorf("ValidID(%q)", id)
		}
	}
	if !sandboxserver.ValidTag("a:b.c", 5) || sandboxserver.ValidTag("a:b.cd", 5) || sandboxserver.ValidTag(":a", 5) || sandboxserver.ValidTag("", 5) {
		t.Error("ValidTag")
	}
}

func TestPolicy(t *testing.T) {
	off := false
	c := &sandboxserver.Call{ProfileName: "p", Profile: sandboxserver.Profile{Runtimes: &sandboxserver.Runtimes{Allow: []string{"node", "python"}, OnDemand: &off, Preinstall: []string{"python@3"}}}}
	if err := c.Policy("ruby", sandboxserver.PolicyUse); err == nil || err.Status != 403 || err.Code != "E_RUNTIME_NOT_ALLOWED" || err.Message != "Nimbus runtime 'ruby' is not allowed by sandbox profile 'p'" {
		t.Fatal(err)
	}
	if err := c.Policy("node@22", sandboxserver.PolicyOnDemand); err == nil || err.Code != "E_RUNTIME_ON_DEMAND_DISABLED" {
		t.Fatal(err)
	}
	if err := c.Policy("python", sandboxserver.PolicyOnDemand); err != nil {
		t.Fatal(err)
	}
	if err := (&sandboxserver.Call{}).Policy("anything", sandboxserver.PolicyOnDemand); err != nil {
		t.Fatal(err)
	}
}

func TestPreinstalls(t *testing.T) {
	client := []any{map[string]any{"preinstall": []any{"node@22", 7, "ruby"}}}
	c := &sandboxserver.Call{Args: client}
	if pre, err := c.Preinstalls(); err != nil || strings.Join(pre, ",") != "node@22,ruby" {
		t.Fatal(pre, err)
	}
	if pre, err := (&sandboxserver.Call{}).Preinstalls(); err != nil || pre == nil || len(pre) != 0 {
		t.Fatal("no preinstall is an empty list:", pre, err)
	}
	c.ProfileName = "ci"
	c.Profile.Runtimes = &sandboxserver.Runtimes{Preinstall: []string{"python"}, Allow: []string{"python", "node"}}
	pre, err := c.Preinstalls()
	if err != nil || strings.Join(pre, ",") != "python" {
		t.Fatal("the profile's list overrides the client's:", pre, err)
	}
	pre[0] = "changed"
	if c.Profile.Runtimes.Preinstall[0] != "python" {
		t.Fatal("the list aliases the profile")
	}
	c.Profile.Runtimes = &sandboxserver.Runtimes{Allow: []string{"node"}}
	if _, err := c.Preinstalls(); err == nil || err.Code != "E_RUNTIME_NOT_ALLOWED" || err.Message != "Nimbus runtime 'ruby' is not allowed by sandbox profile 'ci'" {
		t.Fatal(err)
	}
}
