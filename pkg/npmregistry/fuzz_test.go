package npmregistry_test

import (
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/npmregistry"
)

// FuzzParseNpmrc: any file content parses without panicking, and whatever
// registry it yields is either refused or a normalised http(s) URL.
func FuzzParseNpmrc(f *testing.F) {
	f.Add([]byte("registry=https://r.example/\n@s:registry=${X}\n"))
	f.Add([]byte("registry = \"http://a\\\"b\"\n; c\n[section]\nk=${UNCLOSED\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := npmregistry.ParseNpmrc(data, func(string) string { return "v" })
		if reg, err := npmregistry.ResolveRegistry("@s/p", s); err == nil && reg[len(reg)-1] != '/' {
			t.Fatalf("registry %q does not end in /", reg)
		}
	})
}

// FuzzParseIntegrity: never panics; a parsed hash has its algorithm's size.
func FuzzParseIntegrity(f *testing.F) {
	f.Add("sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==")
	f.Add("sha1-abc sha256-??? sha384-")
	f.Fuzz(func(t *testing.T, s string) {
		i, err := npmregistry.ParseIntegrity(s)
		if err == nil && len(i.Digest) != i.New().Size() {
			t.Fatalf("%q: digest of %d bytes for %s", s, len(i.Digest), i.Algorithm)
		}
	})
}
