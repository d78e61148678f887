package wranglerfile_test

import (
	"bytes"
	"errors"
	"strings"
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

// envConfig has a staging environment with its own buckets and vars, and a
// preview environment that sets nothing of its own.
const envConfig = `{
  // top level
  "name": "box",
  "account_id": "top-account",
  "vars": { "NIMBUS_RUNTIME_CATALOG_SHA256": "aaaa", "GREETING": "hi" },
  "r2_buckets": [{ "binding": "NIMBUS_RUNTIME_CACHE", "bucket_name": "top-runtime" }],
  "env": {
    "staging": {
      "name": "box-stage",
      "vars": { "NIMBUS_RUNTIME_CATALOG_SHA256": "bbbb" },
      "r2_buckets": [{ "binding": "NIMBUS_RUNTIME_CACHE", "bucket_name": "stage-runtime" }]
    },
    "preview": {},
    "prod": { "account_id": "prod-account" }
  }
}
`

// TestEnvironmentFollowsWrangler: name and account_id are inherited (the
// name as <top>-<env> when the environment has none), vars and r2_buckets
// are not, as wrangler resolves `--env`.
func TestEnvironmentFollowsWrangler(t *testing.T) {
	f, err := wranglerfile.Parse([]byte(envConfig))
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.Environment("staging")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := st.Var("NIMBUS_RUNTIME_CATALOG_SHA256"); st.Name != "box-stage" || st.AccountID != "top-account" || v != "bbbb" || st.Bucket("NIMBUS_RUNTIME_CACHE") != "stage-runtime" {
		t.Errorf("staging: %+v", st)
	}
	pv, err := f.Environment("preview")
	if err != nil {
		t.Fatal(err)
	}
	if _, has := pv.Var("GREETING"); pv.Name != "box-preview" || pv.AccountID != "top-account" || has || len(pv.R2Buckets) != 0 {
		t.Errorf("preview inherits what wrangler does not: %+v", pv)
	}
	if pr, _ := f.Environment("prod"); pr.AccountID != "prod-account" {
		t.Errorf("prod: %+v", pr)
	}
	if _, err := f.Environment("qa"); err == nil || !strings.Contains(err.Error(), `no environment "qa" under env (it defines preview, prod, staging)`) {
		t.Errorf("unknown environment: %v", err)
	}
	if top, _ := f.Environment(""); top != f {
		t.Error(`Environment("") is not the top level`)
	}
	svc, _ := wranglerfile.Parse([]byte(`{"name": "x", "legacy_env": false, "env": {"a": {}}}`))
	if _, err := svc.Environment("a"); err == nil || !strings.Contains(err.Error(), "legacy_env") {
		t.Errorf("service environments: %v", err)
	}
	// A file whose env nimbus cannot read still parses: only --env reads it.
	odd, err := wranglerfile.Parse([]byte(`{"name": "x", "env": "nope"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := odd.Environment("a"); err == nil {
		t.Error("env that is not an object: no error")
	}
}

// TestSetEnvVarAndAccountID: the pin goes into env.<name>.vars only (vars
// are not inherited); account_id goes where the environment reads it from:
// its own member when it has one, else the top level when that has none,
// else a member of its own, so that the top level and the environments
// that inherit it do not move with it.
func TestSetEnvVarAndAccountID(t *testing.T) {
	const digest = "cccc"
	out, changed, err := wranglerfile.SetEnvVar([]byte(envConfig), "staging", "NIMBUS_RUNTIME_CATALOG_SHA256", digest)
	if err != nil || !changed {
		t.Fatal(changed, err)
	}
	f, _ := wranglerfile.Parse(out)
	st, _ := f.Environment("staging")
	if v, _ := st.Var("NIMBUS_RUNTIME_CATALOG_SHA256"); v != digest {
		t.Errorf("staging pin %q", v)
	}
	if v, _ := f.Var("NIMBUS_RUNTIME_CATALOG_SHA256"); v != "aaaa" || !strings.Contains(string(out), "// top level") {
		t.Errorf("top level changed:\n%s", out)
	}
	// An environment without vars gets its own.
	out, _, err = wranglerfile.SetEnvVar(out, "preview", "NIMBUS_RUNTIME_CATALOG_SHA256", digest)
	if err != nil {
		t.Fatal(err)
	}
	f, _ = wranglerfile.Parse(out)
	if pv, _ := f.Environment("preview"); pv.Vars["NIMBUS_RUNTIME_CATALOG_SHA256"] != digest {
		t.Errorf("preview:\n%s", out)
	}
	// Again: nothing to change.
	if _, changed, err := wranglerfile.SetEnvVar(out, "staging", "NIMBUS_RUNTIME_CATALOG_SHA256", digest); err != nil || changed {
		t.Errorf("rerun: changed=%v err=%v", changed, err)
	}

	out, changed, err = wranglerfile.SetEnvAccountID([]byte(envConfig), "prod", "new-account")
	if err != nil || !changed {
		t.Fatal(changed, err)
	}
	f, _ = wranglerfile.Parse(out)
	if pr, _ := f.Environment("prod"); pr.AccountID != "new-account" || f.AccountID != "top-account" {
		t.Errorf("prod's own account_id:\n%s", out)
	}
	out, changed, err = wranglerfile.SetEnvAccountID([]byte(envConfig), "staging", "new-account")
	if err != nil || !changed {
		t.Fatal(changed, err)
	}
	f, _ = wranglerfile.Parse(out)
	// Staging inherited another account: it gets its own account_id, and
	// the top level (and preview, which inherits it) stay where they were.
	if st, _ := f.Environment("staging"); st.AccountID != "new-account" || f.AccountID != "top-account" {
		t.Errorf("staging moved the top-level account_id too:\n%s", out)
	}
	if pv, _ := f.Environment("preview"); pv.AccountID != "top-account" {
		t.Errorf("preview moved with staging:\n%s", out)
	}
	if !strings.Contains(string(out), `"name": "box-stage",
      "account_id": "new-account",`) {
		t.Errorf("account_id not after the environment's name:\n%s", out)
	}
	// An environment that sets nothing, under a top level without
	// account_id, gets the top-level member: every environment then reads
	// the one account setup provisioned.
	bare := strings.Replace(envConfig, `"account_id": "top-account",`, "", 1)
	out, changed, err = wranglerfile.SetEnvAccountID([]byte(bare), "preview", "new-account")
	if err != nil || !changed {
		t.Fatal(changed, err)
	}
	if f, _ = wranglerfile.Parse(out); f.AccountID != "new-account" {
		t.Errorf("no top-level account_id to keep:\n%s", out)
	}
	// An empty environment object gets its own member too.
	out, _, err = wranglerfile.SetEnvAccountID([]byte(envConfig), "preview", "new-account")
	if err != nil {
		t.Fatal(err)
	}
	if f, _ = wranglerfile.Parse(out); f.AccountID != "top-account" {
		t.Errorf("preview moved the top level:\n%s", out)
	} else if pv, _ := f.Environment("preview"); pv.AccountID != "new-account" {
		t.Errorf("preview:\n%s", out)
	}
	if _, changed, _ := wranglerfile.SetEnvAccountID([]byte(envConfig), "staging", "top-account"); changed {
		t.Error("account_id already right: changed")
	}
	if _, _, err := wranglerfile.SetEnvVar([]byte(envConfig), "qa", "X", "y"); err == nil {
		t.Error("unknown environment: no error")
	}
}
