package wranglerfile_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/wranglerfile"
)

const id = "0123456789abcdef0123456789abcdef"

func TestSetAccountIDEdits(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			name: "insert after name keeping its trailing comment",
			in: `// top comment
{
  "name": "demo", // worker
  /* block */
  "main": "src/index.ts",
}
`,
			want: `// top comment
{
  "name": "demo", // worker
  "account_id": "` + id + `",
  /* block */
  "main": "src/index.ts",
}
`,
		},
		{
			name: "replace a different id in place",
			in: `{
	"name": "demo",
	"account_id": "ffffffffffffffffffffffffffffffff", // old account
	"main": "src/index.ts"
}`,
			want: `{
	"name": "demo",
	"account_id": "` + id + `", // old account
	"main": "src/index.ts"
}`,
		},
		{
			name: "name is the last member: insert before it",
			in: `{
    "main": "src/index.ts",
    // the Worker
    "name": "demo"
}`,
			want: `{
    "main": "src/index.ts",
    "account_id": "` + id + `",
    // the Worker
    "name": "demo"
}`,
		},
		{
			name: "single line",
			in:   `{"name":"demo","main":"x"}`,
			want: `{"name":"demo","account_id":"` + id + `","main":"x"}`,
		},
		{
			name: "tabs",
			in:   "{\n\t\"name\": \"demo\",\n\t\"main\": \"x\"\n}\n",
			want: "{\n\t\"name\": \"demo\",\n\t\"account_id\": \"" + id + "\",\n\t\"main\": \"x\"\n}\n",
		},
		{
			name: "crlf",
			in:   "{\r\n  \"name\": \"demo\",\r\n  \"main\": \"x\"\r\n}\r\n",
			want: "{\r\n  \"name\": \"demo\",\r\n  \"account_id\": \"" + id + "\",\r\n  \"main\": \"x\"\r\n}\r\n",
		},
		{
			name: "non-string account id replaced",
			in:   `{"name":"demo","account_id":null}`,
			want: `{"name":"demo","account_id":"` + id + `"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, changed, err := wranglerfile.SetAccountID([]byte(tc.in), id)
			if err != nil {
				t.Fatal(err)
			}
			if !changed || string(out) != tc.want {
				t.Fatalf("changed=%v got:\n%s\nwant:\n%s", changed, out, tc.want)
			}
			again, changed2, err := wranglerfile.SetAccountID(out, id)
			if err != nil || changed2 || !bytes.Equal(again, out) {
				t.Fatalf("second edit: changed=%v err=%v", changed2, err)
			}
		})
	}
}

func TestSetAccountIDAlreadyRight(t *testing.T) {
	in := []byte("{ /* keep */ \"name\": \"demo\", \"account_id\": \"" + id + "\" }")
	out, changed, err := wranglerfile.SetAccountID(in, id)
	if err != nil || changed || !bytes.Equal(out, in) {
		t.Fatalf("changed=%v err=%v out=%s", changed, err, out)
	}
}

func TestSetAccountIDRejects(t *testing.T) {
	for _, in := range []string{"", "{", "[]", `"x"`, `{"name": 1}`, "{} {}"} {
		_, _, err := wranglerfile.SetAccountID([]byte(in), id)
		var we *wranglerfile.Error
		if !errors.As(err, &we) {
			t.Errorf("%q: got %v, want *wranglerfile.Error", in, err)
		}
	}
}

func TestParse(t *testing.T) {
	f, err := wranglerfile.Parse([]byte(`{
  // c
  "name": "demo",
  "account_id": "` + id + `",
  "r2_buckets": [{"binding": "A", "bucket_name": "a-b-c"},],
  "vars": {"X": "1"},
}`))
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "demo" || f.AccountID != id || len(f.R2Buckets) != 1 || f.R2Buckets[0].BucketName != "a-b-c" || f.R2Buckets[0].Binding != "A" {
		t.Fatalf("%+v", f)
	}
}

func FuzzSetAccountID(f *testing.F) {
	f.Add([]byte(`{"name":"demo"}`))
	f.Add([]byte("// c\n{\n  \"name\": \"demo\", // x\n  \"main\": \"m\",\n}\n"))
	f.Add([]byte(`{"account_id":"x","name":"n"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, changed, err := wranglerfile.SetAccountID(data, id)
		if err != nil {
			return
		}
		if !changed && !bytes.Equal(out, data) {
			t.Fatal("unchanged result differs from input")
		}
		g, err := wranglerfile.Parse(out)
		if err != nil || g.AccountID != id {
			t.Fatalf("result does not parse or lacks the id: %v", err)
		}
		again, changed2, err := wranglerfile.SetAccountID(out, id)
		if err != nil || changed2 || !bytes.Equal(again, out) {
			t.Fatal("edit is not idempotent")
		}
	})
}

func TestSetVar(t *testing.T) {
	pin := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cases := []struct{ name, in, want string }{
		{"no vars, trailing comma",
			"// c\n{\n  \"name\": \"demo\", // n\n  \"placement\": { \"mode\": \"smart\" },\n}\n",
			"// c\n{\n  \"name\": \"demo\", // n\n  \"placement\": { \"mode\": \"smart\" },\n  \"vars\": {\n    \"NIMBUS_RUNTIME_CATALOG_SHA256\": \"" + pin + "\"\n  },\n}\n"},
		{"no vars, no trailing comma",
			"{\n\t\"name\": \"demo\"\n}",
			"{\n\t\"name\": \"demo\",\n\t\"vars\": {\n\t  \"NIMBUS_RUNTIME_CATALOG_SHA256\": \"" + pin + "\"\n\t}\n}"},
		{"single line", `{"name": "demo"}`, `{"name": "demo", "vars": { "NIMBUS_RUNTIME_CATALOG_SHA256": "` + pin + `" }}`},
		{"existing vars",
			"{\n  \"vars\": {\n    // agent\n    \"NIMBUS_AGENT_MODEL\": \"m\",\n  },\n}",
			"{\n  \"vars\": {\n    \"NIMBUS_RUNTIME_CATALOG_SHA256\": \"" + pin + "\",\n    // agent\n    \"NIMBUS_AGENT_MODEL\": \"m\",\n  },\n}"},
		{"existing pin",
			"{ \"vars\": { \"NIMBUS_RUNTIME_CATALOG_SHA256\": \"old\" /* pin */ } }",
			"{ \"vars\": { \"NIMBUS_RUNTIME_CATALOG_SHA256\": \"" + pin + "\" /* pin */ } }"},
	}
	for _, c := range cases {
		out, changed, err := wranglerfile.SetVar([]byte(c.in), "NIMBUS_RUNTIME_CATALOG_SHA256", pin)
		if err != nil || !changed || string(out) != c.want {
			t.Errorf("%s: changed=%v err=%v\ngot:\n%s\nwant:\n%s", c.name, changed, err, out, c.want)
			continue
		}
		again, changed, err := wranglerfile.SetVar(out, "NIMBUS_RUNTIME_CATALOG_SHA256", pin)
		if err != nil || changed || string(again) != string(out) {
			t.Errorf("%s: second edit changed the file", c.name)
		}
		f, _ := wranglerfile.Parse(out)
		if v, _ := f.Var("NIMBUS_RUNTIME_CATALOG_SHA256"); v != pin {
			t.Errorf("%s: var reads back as %q", c.name, v)
		}
	}
	for _, bad := range []string{`[]`, `{"vars": []}`, `{"vars": {"NIMBUS_RUNTIME_CATALOG_SHA256": 1}}`, `{`} {
		if _, _, err := wranglerfile.SetVar([]byte(bad), "NIMBUS_RUNTIME_CATALOG_SHA256", pin); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func FuzzSetVar(f *testing.F) {
	f.Add([]byte("{\n  \"name\": \"x\",\n  \"vars\": { \"A\": \"b\" },\n}"))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, _, err := wranglerfile.SetVar(data, "NIMBUS_RUNTIME_CATALOG_SHA256", "v")
		if err != nil {
			return
		}
		g, err := wranglerfile.Parse(out)
		if err != nil {
			t.Fatalf("edited file does not parse: %v\n%s", err, out)
		}
		if v, _ := g.Var("NIMBUS_RUNTIME_CATALOG_SHA256"); v != "v" {
			t.Fatalf("var not set in\n%s", out)
		}
	})
}

// TestSetVarKeepsTheLastMembersComment: a comment at the end of the last
// member's line describes that member; "vars" added after it must not take
// it over (`"account_id": "…", // staging` became `"vars": {…}, // staging`).
func TestSetVarKeepsTheLastMembersComment(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"trailing comma",
			"{\n  \"name\": \"demo\",\n  \"account_id\": \"" + id + "\", // the staging account\n}\n",
			"{\n  \"name\": \"demo\",\n  \"account_id\": \"" + id + "\", // the staging account\n  \"vars\": {\n    \"PIN\": \"abc\"\n  },\n}\n"},
		{"no trailing comma",
			"{\n  \"name\": \"demo\",\n  \"account_id\": \"" + id + "\" // the staging account\n}\n",
			"{\n  \"name\": \"demo\",\n  \"account_id\": \"" + id + "\", // the staging account\n  \"vars\": {\n    \"PIN\": \"abc\"\n  }\n}\n"},
		{"block comment",
			"{\n  \"name\": \"demo\", /* the Worker */\n}\n",
			"{\n  \"name\": \"demo\", /* the Worker */\n  \"vars\": {\n    \"PIN\": \"abc\"\n  },\n}\n"},
		{"comment on its own line stays last",
			"{\n  \"name\": \"demo\",\n  // more settings go here\n}\n",
			"{\n  \"name\": \"demo\",\n  \"vars\": {\n    \"PIN\": \"abc\"\n  },\n  // more settings go here\n}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, changed, err := wranglerfile.SetVar([]byte(tt.in), "PIN", "abc")
			if err != nil || !changed {
				t.Fatalf("SetVar: changed=%v err=%v", changed, err)
			}
			if string(out) != tt.want {
				t.Errorf("got\n%q\nwant\n%q", out, tt.want)
			}
		})
	}
}

// TestSetVarKeepsCRLF: a Windows-edited wrangler.jsonc keeps CRLF line
// breaks on the lines "vars" adds, instead of a file of mixed line breaks
// that git reports as changed throughout under core.autocrlf.
func TestSetVarKeepsCRLF(t *testing.T) {
	for _, in := range []string{
		"{\r\n  \"name\": \"demo\", // n\r\n}\r\n",
		"{\r\n  \"name\": \"demo\"\r\n}\r\n",
	} {
		out, _, err := wranglerfile.SetVar([]byte(in), "PIN", "abc")
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(out, []byte("\n")); n != bytes.Count(out, []byte("\r\n")) || !bytes.Contains(out, []byte(`"PIN": "abc"`)) {
			t.Errorf("SetVar(%q) = %q: a line break without its CR", in, out)
		}
	}
}
