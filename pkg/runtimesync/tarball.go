package runtimesync

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// maxEntries bounds how many entries a runtime tarball may hold.
const maxEntries = 100000

// maxUnpackedTotal bounds what a runtime tarball decompresses to, headers
// included. A variable only so a test can lower it.
var maxUnpackedTotal int64 = 4 << 30

// scannedBlob is one blob entry of a tarball: its hash and size, and where
// it was staged for upload ("" when it was only hashed).
type scannedBlob struct {
	sha256 string
	size   int64
	staged string
}

type scanned struct {
	manifest []byte
	blobs    map[string]scannedBlob
}

// scanTarball reads a verified runtime tarball in one streaming pass: it
// keeps manifest.json, hashes every blob, and copies into stageDir the blobs
// stage says the bucket needs. npm strips the first path component of every
// entry ("package/"); so does this.
func scanTarball(ctx context.Context, path, stageDir string, stage func(key string, size int64) bool) (*scanned, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, cacheError("open "+path, err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, invalidPackage("the tarball is not gzip-compressed: %v", err)
	}
	defer gz.Close()
	// Extended headers (PAX records, GNU long names: up to 1 MiB each)
	// announce no size, so the entries' sizes alone do not bound the
	// decompression; what the tar reader pulls from gzip does.
	unpacked := &boundedReader{r: gz, left: maxUnpackedTotal}
	tr := tar.NewReader(unpacked)
	tooLarge := func() *Error {
		return invalidPackage("the tarball unpacks to more than %d bytes", maxUnpackedTotal)
	}
	out := &scanned{blobs: map[string]scannedBlob{}}
	var total int64
	buf := make([]byte, 64<<10)
	for entries := 0; ; entries++ {
		if err := ctx.Err(); err != nil {
			return nil, interrupted(err)
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if unpacked.exceeded {
				return nil, tooLarge()
			}
			return nil, invalidPackage("the tarball is damaged: %v", err)
		}
		if entries >= maxEntries {
			return nil, invalidPackage("the tarball has more than %d entries", maxEntries)
		}
		// Every entry counts, skipped ones too: skipping one still
		// decompresses it, so a gzip bomb outside blobs/ would otherwise
		// cost unbounded CPU between two checks of ctx.
		if hdr.Size < 0 {
			return nil, invalidPackage("the tarball entry %q has %d bytes", hdr.Name, hdr.Size)
		}
		total += hdr.Size
		if total > maxUnpackedTotal {
			return nil, tooLarge()
		}
		_, rel, _ := strings.Cut(strings.TrimPrefix(hdr.Name, "./"), "/")
		isManifest := rel == "manifest.json"
		isBlob := strings.HasPrefix(rel, "blobs/")
		if !isManifest && !isBlob {
			continue
		}
		if hdr.Typeflag == tar.TypeDir {
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil, invalidPackage("the tarball entry %q is not a regular file", hdr.Name)
		}
		if hdr.Size > maxBlob {
			return nil, invalidPackage("the tarball entry %q has %d bytes", hdr.Name, hdr.Size)
		}
		if isManifest {
			if out.manifest != nil {
				return nil, invalidPackage("the tarball holds manifest.json twice")
			}
			if hdr.Size > maxManifest {
				return nil, invalidPackage("manifest.json is larger than %d bytes", maxManifest)
			}
			out.manifest, err = io.ReadAll(tr)
			if err != nil {
				if unpacked.exceeded {
					return nil, tooLarge()
				}
				return nil, invalidPackage("the tarball is damaged: %v", err)
			}
			continue
		}
		key := rel
		if !cleanRelPath(key) {
			return nil, invalidPackage("the tarball entry %q is not a valid blob path", hdr.Name)
		}
		if _, dup := out.blobs[key]; dup {
			return nil, invalidPackage("the tarball holds %q twice", key)
		}
		b, err := readBlob(ctx, tr, hdr.Size, key, stageDir, stage != nil && stage(key, hdr.Size), buf)
		if err != nil {
			if unpacked.exceeded {
				return nil, tooLarge()
			}
			return nil, err
		}
		out.blobs[key] = b
	}
	if out.manifest == nil {
		return nil, invalidPackage("the tarball has no package/manifest.json")
	}
	return out, nil
}

// boundedReader reads at most left bytes from r; past that it fails, and
// exceeded says why.
type boundedReader struct {
	r        io.Reader
	left     int64
	exceeded bool
}

var errUnpackedBound = errors.New("unpacked bound reached")

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		b.exceeded = true
		return 0, errUnpackedBound
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// readBlob hashes one entry, copying it to a staging file when asked.
func readBlob(ctx context.Context, r io.Reader, size int64, key, stageDir string, stage bool, buf []byte) (scannedBlob, error) {
	h := sha256.New()
	var w io.Writer = h
	var file *os.File
	if stage {
		f, err := os.CreateTemp(stageDir, "blob-*")
		if err != nil {
			return scannedBlob{}, cacheError("stage a blob", err)
		}
		file = f
		w = io.MultiWriter(h, f)
	}
	n, err := copyCtx(ctx, w, r, buf)
	if file != nil {
		if cerr := file.Close(); err == nil && cerr != nil {
			err = cacheError("stage a blob", cerr)
		}
	}
	if err != nil {
		if file != nil {
			_ = os.Remove(file.Name())
		}
		if _, ok := AsError(err); ok {
			return scannedBlob{}, err
		}
		return scannedBlob{}, invalidPackage("the tarball is damaged at %q: %v", key, err)
	}
	if n != size {
		return scannedBlob{}, invalidPackage("the tarball entry %q ended after %d of %d bytes", key, n, size)
	}
	b := scannedBlob{sha256: hex.EncodeToString(h.Sum(nil)), size: n}
	if file != nil {
		b.staged = file.Name()
	}
	return b, nil
}

func copyCtx(ctx context.Context, w io.Writer, r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, interrupted(err)
		}
		m, err := r.Read(buf)
		if m > 0 {
			if _, werr := w.Write(buf[:m]); werr != nil {
				var pe *os.PathError
				if errors.As(werr, &pe) {
					return n, cacheError("stage a blob", werr)
				}
				return n, werr
			}
			n += int64(m)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func interrupted(err error) *Error {
	return &Error{Kind: KindInterrupted, Code: CodeInterrupted, Err: err, Message: "interrupted",
		Hint: "rerun the command; blobs already uploaded are kept and the published catalog is unchanged"}
}

// checkBlobs compares a manifest with what the tarball holds: every blob
// must be there with the hash and size the manifest (and its key) names.
func checkBlobs(pkg string, m *Manifest, sc *scanned) error {
	for _, b := range m.Blobs {
		got, ok := sc.blobs[b.Key]
		switch {
		case !ok:
			return blobMismatch(pkg, fmt.Sprintf("blob %s is listed in manifest.json but missing from the tarball", b.Key))
		case got.sha256 != b.SHA256 || got.size != b.Size:
			return blobMismatch(pkg, fmt.Sprintf("blob %s: manifest.json says sha256 %s (%d bytes), the tarball holds sha256 %s (%d bytes)",
				b.Key, b.SHA256, b.Size, got.sha256, got.size))
		}
	}
	return nil
}

func blobMismatch(pkg, msg string) *Error {
	return &Error{Kind: KindData, Code: CodeBlobMismatch, Message: pkg + ": " + msg,
		Hint: "the package does not match its own manifest; nothing was uploaded (report it to the package's publisher)"}
}

// fileBody uploads a staged blob; every Open starts from the beginning, so
// a retried upload resends the file without holding it in memory.
type fileBody struct {
	path string
	size int64
	read func(int64)
}

func (b fileBody) Size() int64 { return b.size }

func (b fileBody) Open() (io.ReadCloser, error) {
	f, err := os.Open(b.path)
	if err != nil {
		return nil, err
	}
	return &countingFile{File: f, read: b.read}, nil
}

type countingFile struct {
	*os.File
	read func(int64)
}

func (f *countingFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	if n > 0 && f.read != nil {
		f.read(int64(n))
	}
	return n, err
}

// staleStaging is the age at which a staging directory (or a temporary
// file of the tarball cache) is taken for one left by a sync that was
// killed outright (SIGKILL, OOM, power loss), which cannot run its own
// cleanup. No sync stages for anywhere near that long: staging ends before
// the first upload, and a download in progress keeps its file's time fresh.
const staleStaging = 24 * time.Hour

// newStageDir makes a private directory for one sync's staged blobs, after
// removing those killed syncs left behind (each up to the runtimes' size).
func newStageDir(cacheDir string) (string, error) {
	base := filepath.Join(cacheDir, "staging")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", cacheError("create "+base, err)
	}
	removeStaleStaging(base, time.Now().Add(-staleStaging))
	d, err := os.MkdirTemp(base, "sync-"+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", cacheError("create a staging directory", err)
	}
	return d, nil
}

// removeStaleStaging removes the sync-* directories under base last
// modified before cutoff. Failures only cost disk space, so they are
// ignored.
func removeStaleStaging(base string, cutoff time.Time) {
	ents, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "sync-") {
			continue
		}
		if info, err := e.Info(); err == nil && info.ModTime().Before(cutoff) {
			_ = os.RemoveAll(filepath.Join(base, e.Name()))
		}
	}
}
