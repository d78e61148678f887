package scaffold

import (
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"Name": "acme", "On": "yes", "Off": ""}
	for _, tc := range []struct{ src, want string }{
		{"plain", "plain"},
		{"hi {{Name}}!", "hi acme!"},
		{"{{Name}}{{Name}}", "acmeacme"},
		{"a{{#On}} on{{/On}}{{#Off}} off{{/Off}}.", "a on."},
		{"a{{^On}} not-on{{/On}}{{^Off}} not-off{{/Off}}.", "a not-off."},
		{"x\n{{#On}}\nkept {{Name}}\n{{/On}}\ny\n", "x\nkept acme\ny\n"},
		{"x\n  {{#Off}}\ndropped\n  {{/Off}}\ny\n", "x\ny\n"},
		{"{{#On}}{{#Off}}inner{{/Off}}outer{{/On}}", "outer"},
		{"{{#Off}}{{^On}}x{{/On}}{{/Off}}", ""},
		{"{ {not a tag} }", "{ {not a tag} }"},
		{"last line {{Name}}", "last line acme"},
	} {
		got, err := expand(tc.src, vars)
		if err != nil || got != tc.want {
			t.Errorf("expand(%q) = %q, %v; want %q", tc.src, got, err, tc.want)
		}
	}
}

func TestExpandErrors(t *testing.T) {
	vars := map[string]string{"Name": "acme", "Other": ""}
	for src, msg := range map[string]string{
		"{{Missing}}":          "unknown name",
		"{{Name":               "unclosed tag",
		"{{#Name}}x":           "unclosed section",
		"{{/Name}}":            "unexpected",
		"{{#Name}}x{{/Other}}": "unexpected",
		"{{.Name}}":            "bad tag",
		"{{}}":                 "bad tag",
		"{{ Name }}":           "bad tag",
	} {
		if _, err := expand(src, vars); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("expand(%q): %v, want %q", src, err, msg)
		}
	}
}

// FuzzExpand feeds arbitrary templates to the renderer: it must never panic,
// and text without "{{" must come back unchanged.
func FuzzExpand(f *testing.F) {
	f.Add("hi {{Name}}")
	f.Add("{{#On}}\nx\n{{/On}}\n")
	f.Add("{{^Off}}{{Name}}{{/Off}}")
	f.Add("{{#On}}{{/Off}}")
	f.Fuzz(func(t *testing.T, src string) {
		out, err := expand(src, map[string]string{"Name": "v", "On": "1", "Off": ""})
		if !strings.Contains(src, "{{") && (err != nil || out != src) {
			t.Fatalf("plain text changed: %q -> %q, %v", src, out, err)
		}
	})
}
