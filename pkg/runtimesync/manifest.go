package runtimesync

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nimbus-sh/nimbus/internal/hexdigest"
)

// maxManifest bounds manifest.json.
const maxManifest = 4 << 20

// maxBlob bounds one blob: the Cloudflare API takes about 300 MiB per PUT.
const maxBlob = 300 << 20

// Manifest is a runtime's manifest.json: what files it installs and which
// content-addressed blob holds each.
type Manifest struct {
	// Name is the runtime's name (manifest "name"), such as cpython.
	Name string
	// Version is the runtime's own version (manifest "version"), which
	// may differ from its npm package version.
	Version string
	// License is the manifest's "license"; empty when it has none.
	License string
	// Files are the files the runtime installs, in manifest order.
	Files []ManifestFile
	// Blobs are the distinct blobs, in the order the files first name them.
	Blobs []Blob
	// Raw is the file as published; it is uploaded and hashed unchanged.
	Raw []byte
	// SHA256 is the hex SHA-256 of Raw (the catalog's manifest_sha256).
	SHA256 string
}

// ManifestFile is one entry of files.
type ManifestFile struct {
	// Path is the install path, relative and clean, unique within the
	// manifest.
	Path string
	// Content is the bucket key of the blob holding the file:
	// blobs/<name>-<version>/<sha256>/<file>.
	Content string
	// SHA256 is the lowercase hex SHA-256 of the file's bytes; it is also
	// part of Content, which makes keys content-addressed.
	SHA256 string
	// Size is the file's size in bytes.
	Size int64
	// Mode is "exec" for an executable file, else "".
	Mode string
}

// Blob is one object of the bucket a manifest needs.
type Blob struct {
	// Key is the blob's bucket key (a ManifestFile.Content).
	Key string
	// SHA256 is the lowercase hex SHA-256 of the blob.
	SHA256 string
	// Size is the blob's size in bytes.
	Size int64
}

// SizeBytes is the sum of the distinct blobs' sizes, the catalog's
// size_bytes.
func (m *Manifest) SizeBytes() int64 {
	var n int64
	for _, b := range m.Blobs {
		n += b.Size
	}
	return n
}

// Key is where the manifest goes in the bucket.
func (m *Manifest) Key() string { return "manifests/" + m.Name + "-" + m.Version + ".json" }

// blobPrefix is the part of every blob key that names the runtime.
func blobPrefix(name, version string) string { return "blobs/" + name + "-" + version + "/" }

func invalidPackage(format string, args ...any) *Error {
	return &Error{Kind: KindData, Code: CodePackageInvalid, Message: fmt.Sprintf(format, args...),
		Hint: "the package is not in the publisher's layout; nothing from it was uploaded"}
}

// ParseManifest reads and checks a manifest: name and version, a file list
// whose blobs are content-addressed under blobs/<name>-<version>/<sha256>/,
// sizes within the API's limits, and one hash and size per blob.
func ParseManifest(raw []byte) (*Manifest, error) {
	if len(raw) > maxManifest {
		return nil, invalidPackage("manifest.json is larger than %d bytes", maxManifest)
	}
	var doc struct {
		Name    *string `json:"name"`
		Version *string `json:"version"`
		License *string `json:"license"`
		Files   []struct {
			Path    string      `json:"path"`
			Content string      `json:"content"`
			SHA256  string      `json:"sha256"`
			Size    json.Number `json:"size"`
			Mode    *string     `json:"mode"`
		} `json:"files"`
		Entrypoints json.RawMessage `json:"entrypoints"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, invalidPackage("manifest.json is not a manifest: %v", err)
	}
	if doc.Name == nil || !validRuntimeName(*doc.Name) || doc.Version == nil || !validVersion(*doc.Version) {
		return nil, invalidPackage("manifest.json has no valid name and version")
	}
	if len(doc.Files) == 0 {
		return nil, invalidPackage("manifest.json lists no files")
	}
	sum := sha256.Sum256(raw)
	m := &Manifest{Name: *doc.Name, Version: *doc.Version, Raw: raw, SHA256: hex.EncodeToString(sum[:])}
	if doc.License != nil {
		m.License = *doc.License
	}
	prefix := blobPrefix(m.Name, m.Version)
	seen := map[string]Blob{}
	paths := map[string]bool{}
	for _, f := range doc.Files {
		size, err := f.Size.Int64()
		if err != nil || size < 0 || size > maxBlob {
			return nil, invalidPackage("manifest.json: file %q has size %q (0 to %d allowed)", f.Path, f.Size, maxBlob)
		}
		if !cleanRelPath(f.Path) || paths[f.Path] {
			return nil, invalidPackage("manifest.json: bad or repeated install path %q", f.Path)
		}
		paths[f.Path] = true
		if !hexdigest.IsSHA256(f.SHA256) {
			return nil, invalidPackage("manifest.json: file %q has no lowercase hex sha256", f.Path)
		}
		rest, ok := strings.CutPrefix(f.Content, prefix)
		digest, src, ok2 := strings.Cut(rest, "/")
		if !ok || !ok2 || digest != f.SHA256 || !cleanRelPath(src) || len(f.Content) > 1024 {
			return nil, invalidPackage("manifest.json: file %q has content %q, not %s<sha256>/<file> with its own sha256", f.Path, f.Content, prefix)
		}
		mode := ""
		if f.Mode != nil {
			mode = *f.Mode
			if mode != "exec" {
				return nil, invalidPackage("manifest.json: file %q has mode %q", f.Path, mode)
			}
		}
		m.Files = append(m.Files, ManifestFile{Path: f.Path, Content: f.Content, SHA256: f.SHA256, Size: size, Mode: mode})
		b := Blob{Key: f.Content, SHA256: f.SHA256, Size: size}
		if prev, ok := seen[b.Key]; ok {
			if prev != b {
				return nil, invalidPackage("manifest.json: blob %q is listed with two sizes", b.Key)
			}
			continue
		}
		seen[b.Key] = b
		m.Blobs = append(m.Blobs, b)
	}
	return m, nil
}

// cleanRelPath accepts a/b/c: no empty, "." or ".." segments, no leading
// slash, no backslashes or control characters.
func cleanRelPath(p string) bool {
	if p == "" || len(p) > 1024 {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\' {
			return false
		}
	}
	return true
}
