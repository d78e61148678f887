package provision_test

import (
	"bytes"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/nimbus-sh/nimbus/pkg/provision"
)

const url = "https://demo.acme.workers.dev"

func TestSetYAMLEndpoint(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty file", "", "endpoint: " + url + "\n"},
		{"append keeps the rest", "# project\ntenant: acme", "# project\ntenant: acme\nendpoint: " + url + "\n"},
		{"replace keeps comment", "tenant: acme\nendpoint: http://localhost:8787 # dev\nsubject: a\n",
			"tenant: acme\nendpoint: " + url + " # dev\nsubject: a\n"},
		{"double quoted", "endpoint: \"http://x\"\n", "endpoint: " + url + "\n"},
		{"block scalar replaced", "endpoint: |\n  http://old\n\ntenant: x\n", "endpoint: " + url + "\n\ntenant: x\n"},
		{"nested endpoint untouched", "profiles:\n  dev:\n    endpoint: http://x\n", "profiles:\n  dev:\n    endpoint: http://x\nendpoint: " + url + "\n"},
		{"crlf", "tenant: a\r\nendpoint: http://x\r\n", "tenant: a\r\nendpoint: " + url + "\r\n"},
		// An appended key takes the file's line breaks: no bare LF in a
		// CRLF file.
		{"crlf, endpoint appended", "tenant: a\r\n", "tenant: a\r\nendpoint: " + url + "\r\n"},
		{"crlf, no final break", "# p\r\ntenant: a", "# p\r\ntenant: a\r\nendpoint: " + url + "\r\n"},
		// A byte order mark (Notepad) is kept, and the key on the first
		// line is still found: appending would give the file two endpoint
		// keys, which the next run refuses.
		{"bom, endpoint first", "\ufeffendpoint: http://x\ntenant: a\n", "\ufeffendpoint: " + url + "\ntenant: a\n"},
		{"bom, endpoint appended", "\ufefftenant: a\n", "\ufefftenant: a\nendpoint: " + url + "\n"},
		// An anchor stays: an alias elsewhere names it, and without it the
		// file would not parse. A tag stays too.
		{"anchor kept", "endpoint: &ep http://old # dev\nmcp:\n  endpoint: *ep\n",
			"endpoint: &ep " + url + " # dev\nmcp:\n  endpoint: *ep\n"},
		{"anchor and tag kept", "endpoint: !!str &ep 'http://old'\nx: *ep\n", "endpoint: !!str &ep " + url + "\nx: *ep\n"},
		{"anchored block scalar", "endpoint: &ep |\n  http://old\nx: *ep\n", "endpoint: &ep " + url + "\nx: *ep\n"},
		{"folded plain scalar", "endpoint: http://old\n  /path\n  # kept\ntenant: a\n", "endpoint: " + url + "\n  # kept\ntenant: a\n"},
		{"sequence at the margin", "endpoint:\n- a\n- b\ntenant: a\n", "endpoint: " + url + "\ntenant: a\n"},
		{"alias replaced", "base: &b http://old\nendpoint: *b\n", "base: &b http://old\nendpoint: " + url + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, changed, err := provision.SetYAMLEndpoint([]byte(tc.in), url)
			if err != nil {
				t.Fatal(err)
			}
			if !changed || string(out) != tc.want {
				t.Fatalf("got %q want %q", out, tc.want)
			}
			var doc map[string]any
			if err := yaml.Unmarshal(out, &doc); err != nil || doc["endpoint"] != url {
				t.Fatalf("%q does not parse to endpoint %s: %v %v", out, url, doc["endpoint"], err)
			}
			again, changed, err := provision.SetYAMLEndpoint(out, url)
			if err != nil || changed || !bytes.Equal(again, out) {
				t.Fatalf("not idempotent: %q %v %v", again, changed, err)
			}
		})
	}
}

func TestSetYAMLEndpointUnchanged(t *testing.T) {
	for _, in := range []string{"endpoint: " + url + "\n", "endpoint: \"" + url + "\" # prod\n", "endpoint: '" + url + "'\n"} {
		out, changed, err := provision.SetYAMLEndpoint([]byte(in), url)
		if err != nil || changed || string(out) != in {
			t.Errorf("%q: changed=%v err=%v", in, changed, err)
		}
	}
}

func TestSetYAMLEndpointRefuses(t *testing.T) {
	for _, in := range []string{"{endpoint: x}\n", "- a\n", "endpoint: a\nendpoint: b\n", "endpoint: \"open\n", "  tenant: a\n", "tenant: a\rendpoint: x\r"} {
		_, _, err := provision.SetYAMLEndpoint([]byte(in), url)
		pe, ok := provision.AsError(err)
		if !ok || pe.Code != provision.CodeNimbusConfig || !strings.Contains(pe.Hint, "by hand") {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func FuzzSetYAMLEndpoint(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		out, changed, err := provision.SetYAMLEndpoint(data, url)
		if err != nil {
			return
		}
		if !changed && !bytes.Equal(out, data) {
			t.Fatal("unchanged result differs from input")
		}
		// A file that parsed still parses, with the endpoint recorded.
		var before map[string]any
		if yaml.Unmarshal(data, &before) == nil && before != nil {
			var after map[string]any
			if err := yaml.Unmarshal(out, &after); err != nil || after["endpoint"] != url {
				t.Fatalf("%q parsed, %q does not give the endpoint: %v %v", data, out, after["endpoint"], err)
			}
		}
		again, changed, err := provision.SetYAMLEndpoint(out, url)
		if err != nil || changed || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent on %q: %q changed=%v err=%v", data, again, changed, err)
		}
	})
}

// TestSetYAMLEndpointRefusesURL: a URL that nimbus.yaml cannot hold as
// one plain value is E_NIMBUS_CONFIG, the endpoint cannot be recorded,
// exiting 73 (the output cannot be made), with a hint saying what to do.
// It was E_PLAN_INVALID exiting 70 without a hint, a code that means
// contradicting flags.
func TestSetYAMLEndpointRefusesURL(t *testing.T) {
	for _, bad := range []string{"https://a.example/\nb: c", "https://a.example/#x", "https://a.example/'", "https://a.example/\"", " https://a.example", ""} {
		_, _, err := provision.SetYAMLEndpoint([]byte("tenant: a\n"), bad)
		pe, ok := provision.AsError(err)
		if !ok {
			t.Fatalf("%q: %v is not a *provision.Error", bad, err)
		}
		if pe.Code != provision.CodeNimbusConfig || pe.ExitCode() != 73 || !strings.Contains(pe.Hint, "by hand") {
			t.Errorf("%q: code %s exit %d hint %q, want %s, 73 and a hint", bad, pe.Code, pe.ExitCode(), pe.Hint, provision.CodeNimbusConfig)
		}
	}
}
