package runtimesync

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"sort"

	"github.com/nimbus-sh/nimbus/internal/hexdigest"
	"github.com/nimbus-sh/nimbus/internal/jsjson"
)

// Bucket keys of the catalog.
const (
	// CatalogKey is the latest catalog, for readers that do not pin.
	CatalogKey = "catalog/v1.json"
	// catalogPinPrefix holds every catalog ever published by its digest;
	// the Worker reads only these, by the digest it is configured with.
	catalogPinPrefix = "catalog/sha256/"
)

// maxCatalog bounds a catalog read from a bucket.
const maxCatalog = 4 << 20

// PinKey is where a catalog with this digest lives.
func PinKey(digest string) string { return catalogPinPrefix + digest + ".json" }

// Catalog is the runtime catalog: {"version":1,"runtimes":{...}}. It keeps
// the key order and any extra members of the document it was read from, so
// reading and writing it back yields the same bytes (and digest), as the
// upstream publisher's read-modify-write does.
type Catalog struct {
	root jsjson.Value
}

// CatalogEntry is what the catalog records for one runtime version.
type CatalogEntry struct {
	// Manifest is the bucket key of the runtime's manifest.json (catalog
	// "manifest").
	Manifest string
	// ManifestSHA256 is the lowercase hex SHA-256 of the manifest's bytes
	// (catalog "manifest_sha256"); the Worker checks the manifest against
	// it.
	ManifestSHA256 string
	// SizeBytes is the sum of the runtime's distinct blob sizes, in bytes
	// (catalog "size_bytes").
	SizeBytes int64
	// License is the runtime's license as its manifest states it (catalog
	// "license").
	License string
}

// Row is one runtime at its default version, as `runtime list` prints it.
type Row struct {
	// Name is the runtime's name (the catalog's key).
	Name string
	// Version is the runtime's default version in the catalog.
	Version string
	// SizeBytes is that version's size in bytes, the sum of its blobs.
	SizeBytes int64
	// License is that version's license.
	License string
}

// NewCatalog returns an empty catalog.
func NewCatalog() *Catalog {
	root := jsjson.Value{Kind: jsjson.Object}
	root.Set("version", jsjson.NumberValue(1))
	root.Set("runtimes", jsjson.Value{Kind: jsjson.Object})
	return &Catalog{root: root}
}

func invalidCatalog(format string, args ...any) *Error {
	return &Error{Kind: KindData, Code: CodeCatalogInvalid, Message: fmt.Sprintf(format, args...),
		Hint: "the bucket's catalog was not written by a Nimbus publisher; nothing was published over it"}
}

// ParseCatalog reads and validates a catalog: version 1; for every runtime
// a default version that exists and, per version, a manifest key, its
// SHA-256, a size and a license.
func ParseCatalog(data []byte) (*Catalog, error) {
	if len(data) > maxCatalog {
		return nil, invalidCatalog("the catalog is larger than %d bytes", maxCatalog)
	}
	root, err := jsjson.Parse(data)
	if err != nil {
		return nil, invalidCatalog("the catalog is not JSON: %v", err)
	}
	if root.Kind != jsjson.Object {
		return nil, invalidCatalog("the catalog is not a JSON object")
	}
	if v, ok := root.Get("version"); !ok || v.Kind != jsjson.Number || v.Num != 1 {
		return nil, invalidCatalog("the catalog's version is not 1")
	}
	rts, ok := root.Get("runtimes")
	if !ok || rts.Kind != jsjson.Object {
		return nil, invalidCatalog("the catalog has no runtimes object")
	}
	for _, rt := range rts.Items {
		if rt.Value.Kind != jsjson.Object {
			return nil, invalidCatalog("runtime %q is not an object", rt.Key)
		}
		def, ok := rt.Value.Get("default")
		vers, ok2 := rt.Value.Get("versions")
		if !ok || def.Kind != jsjson.String || !ok2 || vers.Kind != jsjson.Object {
			return nil, invalidCatalog("runtime %q needs a default and versions", rt.Key)
		}
		if _, ok := vers.Get(def.Str); !ok {
			return nil, invalidCatalog("runtime %q has no default version %s", rt.Key, def.Str)
		}
		for _, ver := range vers.Items {
			if _, err := entryOf(ver.Value); err != nil {
				return nil, invalidCatalog("runtime %q version %q: %v", rt.Key, ver.Key, err)
			}
		}
	}
	return &Catalog{root: root}, nil
}

func entryOf(v jsjson.Value) (CatalogEntry, error) {
	if v.Kind != jsjson.Object {
		return CatalogEntry{}, fmt.Errorf("not an object")
	}
	str := func(k string) (string, bool) {
		x, ok := v.Get(k)
		return x.Str, ok && x.Kind == jsjson.String
	}
	var e CatalogEntry
	var ok bool
	if e.Manifest, ok = str("manifest"); !ok || e.Manifest == "" {
		return e, fmt.Errorf("no manifest key")
	}
	if e.ManifestSHA256, ok = str("manifest_sha256"); !ok || !hexdigest.IsSHA256(e.ManifestSHA256) {
		return e, fmt.Errorf("no manifest_sha256")
	}
	if e.License, ok = str("license"); !ok {
		return e, fmt.Errorf("no license")
	}
	size, ok := v.Get("size_bytes")
	if !ok || size.Kind != jsjson.Number || size.Num < 0 || size.Num != math.Trunc(size.Num) || size.Num > 1<<53 {
		return e, fmt.Errorf("size_bytes is not a non-negative integer")
	}
	e.SizeBytes = int64(size.Num)
	return e, nil
}

func (c *Catalog) runtimes() *jsjson.Value { return c.root.Ptr("runtimes") }

// Set records a runtime version and makes it the runtime's default, as the
// publisher does. Existing runtimes and versions keep their place.
func (c *Catalog) Set(name, version string, e CatalogEntry) {
	rts := c.runtimes()
	rt := rts.Ptr(name)
	if rt == nil {
		fresh := jsjson.Value{Kind: jsjson.Object}
		fresh.Set("default", jsjson.StringValue(version))
		fresh.Set("versions", jsjson.Value{Kind: jsjson.Object})
		rts.Set(name, fresh)
		rt = rts.Ptr(name)
	}
	entry := jsjson.Value{Kind: jsjson.Object}
	entry.Set("manifest", jsjson.StringValue(e.Manifest))
	entry.Set("manifest_sha256", jsjson.StringValue(e.ManifestSHA256))
	entry.Set("size_bytes", jsjson.NumberValue(float64(e.SizeBytes)))
	entry.Set("license", jsjson.StringValue(e.License))
	rt.Ptr("versions").Set(version, entry)
	rt.Set("default", jsjson.StringValue(version))
}

// Entry returns the recorded entry of a runtime version.
func (c *Catalog) Entry(name, version string) (CatalogEntry, bool) {
	rt, ok := c.runtimes().Get(name)
	if !ok {
		return CatalogEntry{}, false
	}
	vers, _ := rt.Get("versions")
	v, ok := vers.Get(version)
	if !ok {
		return CatalogEntry{}, false
	}
	e, err := entryOf(v)
	return e, err == nil
}

// Versions lists every runtime@version the catalog records.
func (c *Catalog) Versions() []string {
	var out []string
	for _, rt := range c.runtimes().Items {
		vers, _ := rt.Value.Get("versions")
		for _, v := range vers.Items {
			out = append(out, rt.Key+"@"+v.Key)
		}
	}
	sort.Strings(out)
	return out
}

// Missing lists what other records and c does not: the runtimes and
// versions that publishing c over other would drop.
func (c *Catalog) Missing(other *Catalog) []string {
	have := map[string]bool{}
	for _, v := range c.Versions() {
		have[v] = true
	}
	var out []string
	for _, v := range other.Versions() {
		if !have[v] {
			out = append(out, v)
		}
	}
	return out
}

// Rows returns every runtime at its default version, in catalog order.
func (c *Catalog) Rows() []Row {
	var out []Row
	for _, rt := range c.runtimes().Items {
		def, _ := rt.Value.Get("default")
		e, _ := c.Entry(rt.Key, def.Str)
		out = append(out, Row{Name: rt.Key, Version: def.Str, SizeBytes: e.SizeBytes, License: e.License})
	}
	return out
}

// Bytes serialises the catalog as the publisher does (JSON.stringify with a
// 2-space indent, no trailing newline). The digest is taken over these bytes.
func (c *Catalog) Bytes() []byte { return jsjson.MarshalIndent(c.root, "  ") }

// Digest is the hex SHA-256 of data, the value of NIMBUS_RUNTIME_CATALOG_SHA256.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// ValidDigest reports whether s looks like a catalog digest.
func ValidDigest(s string) bool { return hexdigest.IsSHA256(s) }
