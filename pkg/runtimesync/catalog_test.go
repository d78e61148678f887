package runtimesync_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/runtimesync"
)

// TestCatalogMatchesUpstreamReadModifyWrite replays on a catalog with
// awkward content (an integer-like version, U+2028, HTML characters, extra
// members, large and tiny numbers) the operations the upstream publisher
// does in JavaScript; want.json is what Node wrote for them, so a catalog
// nimbus updates keeps the bytes (and digest) upstream would produce.
func TestCatalogMatchesUpstreamReadModifyWrite(t *testing.T) {
	in, err := os.ReadFile("testdata/catalog/input.json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/catalog/want.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := runtimesync.ParseCatalog(in)
	if err != nil {
		t.Fatal(err)
	}
	c.Set("bash", "5.2.37", runtimesync.CatalogEntry{Manifest: "manifests/bash-5.2.37.json", ManifestSHA256: strings.Repeat("ef", 32), SizeBytes: 9138, License: "GPL-3.0-or-later AND GPL-2.0-only"})
	c.Set("clang", "binji-2020", runtimesync.CatalogEntry{Manifest: "manifests/clang-binji-2020.json", ManifestSHA256: strings.Repeat("01", 32), SizeBytes: 60002486, License: "Apache-2.0-with-LLVM-exception"})
	c.Set("clang", "10", runtimesync.CatalogEntry{Manifest: "manifests/clang-10.json", ManifestSHA256: strings.Repeat("02", 32), License: ""})
	if got := c.Bytes(); !bytes.Equal(got, want) {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	rows := c.Rows()
	if len(rows) != 3 || rows[0].Name != "ruby" || rows[2].Name != "clang" || rows[2].Version != "10" {
		t.Fatalf("rows %+v", rows)
	}
	if got := c.Missing(runtimesync.NewCatalog()); got != nil {
		t.Fatalf("an empty catalog has nothing to drop: %v", got)
	}
	if got := runtimesync.NewCatalog().Missing(c); len(got) != 4 || got[0] != "bash@5.2.37" {
		t.Fatalf("missing %v", got)
	}
}

func TestParseCatalogRejects(t *testing.T) {
	good := `"manifest":"m","manifest_sha256":"` + strings.Repeat("a", 64) + `","size_bytes":1,"license":"l"`
	for name, doc := range map[string]string{
		"not json":         `{`,
		"array":            `[]`,
		"version 2":        `{"version":2,"runtimes":{}}`,
		"version string":   `{"version":"1","runtimes":{}}`,
		"no runtimes":      `{"version":1}`,
		"no default":       `{"version":1,"runtimes":{"a":{"versions":{"1":{` + good + `}}}}}`,
		"default missing":  `{"version":1,"runtimes":{"a":{"default":"2","versions":{"1":{` + good + `}}}}}`,
		"bad sha":          `{"version":1,"runtimes":{"a":{"default":"1","versions":{"1":{"manifest":"m","manifest_sha256":"x","size_bytes":1,"license":"l"}}}}}`,
		"fractional size":  `{"version":1,"runtimes":{"a":{"default":"1","versions":{"1":{"manifest":"m","manifest_sha256":"` + strings.Repeat("a", 64) + `","size_bytes":1.5,"license":"l"}}}}}`,
		"negative size":    `{"version":1,"runtimes":{"a":{"default":"1","versions":{"1":{"manifest":"m","manifest_sha256":"` + strings.Repeat("a", 64) + `","size_bytes":-1,"license":"l"}}}}}`,
		"license not text": `{"version":1,"runtimes":{"a":{"default":"1","versions":{"1":{"manifest":"m","manifest_sha256":"` + strings.Repeat("a", 64) + `","size_bytes":1,"license":null}}}}}`,
	} {
		if _, err := runtimesync.ParseCatalog([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if e, ok := runtimesync.AsError(err); !ok || e.Code != runtimesync.CodeCatalogInvalid {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := runtimesync.ParseCatalog([]byte(`{"version":1,"runtimes":{"a":{"default":"1","versions":{"1":{` + good + `}}}}}`)); err != nil {
		t.Fatalf("valid catalog refused: %v", err)
	}
}

// FuzzParseCatalog: any bytes either fail with a catalog error or parse
// into a catalog that serialises and parses back to the same bytes.
func FuzzParseCatalog(f *testing.F) {
	if in, err := os.ReadFile("testdata/catalog/input.json"); err == nil {
		f.Add(in)
	}
	f.Add([]byte(`{"version":1,"runtimes":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := runtimesync.ParseCatalog(data)
		if err != nil {
			if _, ok := runtimesync.AsError(err); !ok {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		out := c.Bytes()
		c2, err := runtimesync.ParseCatalog(out)
		if err != nil {
			t.Fatalf("serialised catalog does not parse: %v\n%s", err, out)
		}
		if !bytes.Equal(c2.Bytes(), out) {
			t.Fatalf("not stable:\n%s\n%s", out, c2.Bytes())
		}
	})
}

// FuzzParseManifest: never panics; an accepted manifest's blobs are
// content-addressed under its own prefix.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"name":"bash","version":"5.2.37","license":"GPL","files":[{"path":"bin/bash","content":"blobs/bash-5.2.37/` + strings.Repeat("a", 64) + `/BIN","sha256":"` + strings.Repeat("a", 64) + `","size":3,"mode":"exec"}],"entrypoints":[]}`))
	f.Add([]byte(`{"name":"x","version":"1","files":[{"path":"../a","content":"blobs/x-1/a/../../b","sha256":"","size":-1}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := runtimesync.ParseManifest(data)
		if err != nil {
			return
		}
		for _, b := range m.Blobs {
			if !strings.HasPrefix(b.Key, "blobs/"+m.Name+"-"+m.Version+"/"+b.SHA256+"/") || strings.Contains(b.Key, "..") {
				t.Fatalf("accepted blob key %q", b.Key)
			}
		}
	})
}
