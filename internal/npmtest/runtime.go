package npmtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path"
	"slices"
	"strings"
	"time"
)

// RuntimeFile is one file of a synthetic runtime: installed at Path, its
// bytes stored as the blob named Src.
type RuntimeFile struct {
	Path string
	Src  string
	Data []byte
	Exec bool
}

// Runtime describes a synthetic runtime package in the publisher's npm
// layout: package/manifest.json plus
// package/blobs/<name>-<version>/<sha256>/<src>.
type Runtime struct {
	Name, Version, License string
	Files                  []RuntimeFile
	// Entrypoints are binName:runner pairs.
	Entrypoints []string
}

type manifestFile struct {
	Path    string `json:"path"`
	Content string `json:"content"`
	SHA256  string `json:"sha256"`
	Size    int    `json:"size"`
	Mode    string `json:"mode,omitempty"`
}

type manifestEntrypoint struct {
	BinName string   `json:"binName"`
	Runner  string   `json:"runner"`
	Args    []string `json:"args"`
}

// BlobKey is the bucket key of a file's blob.
func (r Runtime) BlobKey(f RuntimeFile) string {
	sum := sha256.Sum256(f.Data)
	return "blobs/" + r.Name + "-" + r.Version + "/" + hex.EncodeToString(sum[:]) + "/" + f.Src
}

// Manifest returns manifest.json as the publisher writes it (2-space JSON,
// no trailing newline).
func (r Runtime) Manifest() []byte {
	files := []manifestFile{}
	for _, f := range r.Files {
		sum := sha256.Sum256(f.Data)
		mf := manifestFile{Path: f.Path, Content: r.BlobKey(f), SHA256: hex.EncodeToString(sum[:]), Size: len(f.Data)}
		if f.Exec {
			mf.Mode = "exec"
		}
		files = append(files, mf)
	}
	eps := []manifestEntrypoint{}
	for _, e := range r.Entrypoints {
		bin, runner, _ := strings.Cut(e, ":")
		eps = append(eps, manifestEntrypoint{BinName: bin, Runner: runner, Args: []string{}})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	// Field order as the publisher writes it.
	_ = enc.Encode(struct {
		Name          string               `json:"name"`
		Version       string               `json:"version"`
		License       string               `json:"license"`
		WASINamespace string               `json:"wasi_namespace"`
		Files         []manifestFile       `json:"files"`
		Entrypoints   []manifestEntrypoint `json:"entrypoints"`
	}{r.Name, r.Version, r.License, "wasi_snapshot_preview1", files, eps})
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// Entry is one file in a tarball.
type Entry struct {
	Name string
	Data []byte
	// Type is a tar type flag; 0 means a regular file.
	Type byte
	// Linkname is the target of a link entry.
	Linkname string
}

// TarballOption changes the package a Tarball call builds.
type TarballOption func(*[]Entry)

// CorruptBlob replaces the bytes of the blob of src (same length, so only
// the hash tells).
func CorruptBlob(src string) TarballOption {
	return func(es *[]Entry) {
		for i, e := range *es {
			if strings.HasPrefix(e.Name, "package/blobs/") && strings.HasSuffix(e.Name, "/"+src) {
				d := slices.Clone(e.Data)
				if len(d) == 0 {
					d = []byte{0}
				} else {
					d[0] ^= 0xff
				}
				(*es)[i].Data = d
			}
		}
	}
}

// DropBlob leaves the blob of src out of the tarball.
func DropBlob(src string) TarballOption {
	return func(es *[]Entry) {
		*es = slices.DeleteFunc(*es, func(e Entry) bool {
			return strings.HasPrefix(e.Name, "package/blobs/") && strings.HasSuffix(e.Name, "/"+src)
		})
	}
}

// AddEntry adds an arbitrary entry.
func AddEntry(e Entry) TarballOption {
	return func(es *[]Entry) { *es = append(*es, e) }
}

// ManifestLast puts manifest.json after the blobs, as the real packages do.
func ManifestLast() TarballOption {
	return func(es *[]Entry) {
		i := slices.IndexFunc(*es, func(e Entry) bool { return e.Name == "package/manifest.json" })
		if i >= 0 {
			m := (*es)[i]
			*es = append(slices.Delete(*es, i, i+1), m)
		}
	}
}

// Tarball builds the package's .tgz: package.json, manifest.json and one
// entry per distinct blob.
func (r Runtime) Tarball(opts ...TarballOption) []byte {
	pkgJSON, _ := json.MarshalIndent(map[string]any{
		"name": "@nimbus-sh/runtime-" + r.Name, "version": r.Version, "license": r.License,
		"files": []string{"manifest.json", "blobs"},
	}, "", "  ")
	entries := []Entry{
		{Name: "package/package.json", Data: pkgJSON},
		{Name: "package/manifest.json", Data: r.Manifest()},
	}
	seen := map[string]bool{}
	for _, f := range r.Files {
		k := r.BlobKey(f)
		if seen[k] {
			continue
		}
		seen[k] = true
		entries = append(entries, Entry{Name: "package/" + k, Data: f.Data})
	}
	for _, o := range opts {
		o(&entries)
	}
	return TarGz(entries)
}

// TarGz writes entries as a gzip-compressed tar with fixed times, so the
// same entries always give the same bytes (and integrity).
func TarGz(entries []Entry) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	mtime := time.Date(1985, 10, 26, 8, 15, 0, 0, time.UTC)
	for _, e := range entries {
		typ := e.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.Name, Typeflag: typ, Linkname: e.Linkname, Mode: 0o644, ModTime: mtime, Format: tar.FormatPAX}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(e.Data))
		}
		if typ == tar.TypeDir {
			hdr.Mode = 0o755
			hdr.Name = path.Clean(e.Name) + "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			panic(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write(e.Data); err != nil {
				panic(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		panic(err)
	}
	if err := gz.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}
