package localsandbox

import (
	"path"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

// FuzzRel checks the sandbox path mapping: whatever the client sends, the
// name handed to os.Root is relative, clean and never climbs out.
func FuzzRel(f *testing.F) {
	f.Fuzz(func(t *testing.T, p string) {
		r := rel(p)
		if r == "" || strings.HasPrefix(r, "/") || r == ".." || strings.HasPrefix(r, "../") || strings.Contains(r, "/../") || strings.HasSuffix(r, "/..") {
			t.Fatalf("rel(%q) = %q", p, r)
		}
		if r != "." && path.Clean(r) != r {
			t.Fatalf("rel(%q) = %q is not clean", p, r)
		}
		if c := cleanPath(p); !strings.HasPrefix(c, "/") || (r != "." && c != "/"+r) {
			t.Fatalf("cleanPath(%q) = %q, rel %q", p, c, r)
		}
	})
}

// FuzzDecodeBody checks the request body parser: it never panics, and a
// body it accepts is an object whose bytes wire values became []byte.
func FuzzDecodeBody(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		obj, err := sandboxserver.DecodeBody(body)
		if err != nil {
			if obj != nil {
				t.Fatal("object returned with an error")
			}
			return
		}
		if obj == nil {
			t.Fatal("nil object without an error")
		}
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				if x["__nimbusWireType"] == "bytes" {
					if _, ok := x["base64"].(string); ok {
						// Only invalid base64 may stay an object.
						return
					}
				}
				for _, e := range x {
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			}
		}
		walk(obj)
		c := &sandboxserver.Call{}
		c.Args, _ = obj["args"].([]any)
		for i := range 4 {
			_, _ = c.Num(i, "n")
			_, _ = c.Str(i, "s")
			_ = c.Obj(i)
			_, _ = execOpts(c, i)
		}
	})
}

func TestValidators(t *testing.T) {
	for id, want := range map[string]bool{"job-1": true, "a.b_c-D9": true, "..": true, "": false, "bad id": false, "a/b": false, "é": false, strings.Repeat("a", 128): true, strings.Repeat("a", 129): false} {
		if ValidID(id) != want {
			t.Errorf("ValidID(%q) != %v", id, want)
		}
	}
	for tag, want := range map[string]bool{"ci-run-7": true, "a:b.c_d-e": true, "-bad": false, "": false, "a b": false, strings.Repeat("a", 160): true, strings.Repeat("a", 161): false} {
		if sandboxserver.ValidTag(tag, 160) != want {
			t.Errorf("ValidTag(%q) != %v", tag, want)
		}
	}
	for out, want := range map[string]string{"Python 3.12.7\n": "3.12.7", "v20.20.2": "20.20.2", "git version 2.47.0 (Apple)": "2.47.0", "ruby 3.4.1p0 (2024)": "3.4.1", "no version 7": "", "": ""} {
		if got := version(out); got != want {
			t.Errorf("version(%q) = %q, want %q", out, got, want)
		}
	}
}
