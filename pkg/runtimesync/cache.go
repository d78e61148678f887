package runtimesync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nimbus-sh/nimbus/internal/atomicfile"
	"github.com/nimbus-sh/nimbus/pkg/npmregistry"
)

// Cache keeps verified runtime tarballs, addressed by their integrity hash,
// so a second sync downloads nothing. Next to each tarball it records the
// manifest read from it once every blob checked out, which lets a sync that
// has nothing to upload skip reading the tarball at all.
type Cache struct {
	// Dir is the cache directory, e.g. $XDG_CACHE_HOME/nimbus/runtimes.
	Dir string
	// Keep is how many tarballs of each runtime a sync that published
	// leaves in the cache: those it used, then the most recently used
	// others up to Keep in all; the rest are removed with their manifest
	// records. 0 means DefaultKeep.
	Keep int

	// hook, when set (by a test, through export_test.go), is called at
	// the named points of a tarball's fetch with the tarball's path, so a
	// test can run another sync between two steps of this one: the
	// interleavings that matter cannot be forced through the registry or
	// the file system. Points: "stale" (a cached copy failed its check),
	// "fetch" (a download attempt is about to start), "ready" (the
	// verified tarball is about to be read).
	hook func(point, path string)
}

func (c *Cache) at(point, path string) {
	if c.hook != nil {
		c.hook(point, path)
	}
}

// The cache's layout: each tarball and its manifest record are named
// after the tarball's integrity (npmregistry.Integrity.Name) in one
// directory, which eviction reads back.
const (
	tarballSubdir = "tarballs"
	tarballExt    = ".tgz"
	manifestExt   = ".manifest.json"
)

func (c *Cache) tarballDir() string { return filepath.Join(c.Dir, tarballSubdir) }

func (c *Cache) tarballPath(i npmregistry.Integrity) string {
	return filepath.Join(c.tarballDir(), i.Name()+tarballExt)
}

func (c *Cache) manifestPath(i npmregistry.Integrity) string {
	return filepath.Join(c.tarballDir(), i.Name()+manifestExt)
}

func cacheError(what string, err error) *Error {
	return &Error{Kind: KindCantCreate, Code: CodeCache, Err: err,
		Message: "runtime cache: " + what + ": " + err.Error(),
		Hint:    "make the cache directory writable, or point XDG_CACHE_HOME (LocalAppData on Windows) elsewhere"}
}

// verifiedManifest returns the manifest recorded for a tarball that passed
// every check, or nil. The record is published as the package's manifest
// without the tarball being read again, so it carries its own SHA-256: a
// record damaged on disk is removed and the tarball read instead.
func (c *Cache) verifiedManifest(i npmregistry.Integrity) *Manifest {
	return readRecord(c.manifestPath(i))
}

// readRecord reads the manifest record at path (see verifiedManifest).
func readRecord(path string) *Manifest {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 65+maxManifest+1))
	if err != nil {
		return nil
	}
	sum, raw, ok := bytes.Cut(data, []byte("\n"))
	if !ok || string(sum) != Digest(raw) {
		_ = os.Remove(path)
		return nil
	}
	m, err := ParseManifest(raw)
	if err != nil {
		_ = os.Remove(path)
		return nil
	}
	return m
}

// recordManifest notes that the tarball with integrity i holds manifest raw
// and that its blobs matched it: the manifest's hex SHA-256, a line break,
// then the manifest. A failure only costs speed later, which is also why
// the file is not synced (a manifest is written for every tarball a sync
// verifies).
func (c *Cache) recordManifest(i npmregistry.Integrity, raw []byte) {
	path := c.manifestPath(i)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
		_ = atomicfile.WriteFile(path, append([]byte(Digest(raw)+"\n"), raw...), atomicfile.Options{Perm: 0o600})
	}
}

// hashFile checks a cached tarball against its integrity.
func hashFile(path string, i npmregistry.Integrity) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	h := i.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, err
	}
	return i.Matches(h.Sum(nil)), nil
}

// downloadAttempts is how often a download that broke off is restarted.
const downloadAttempts = 3

// tarball returns the path of the verified tarball, downloading it when the
// cache does not hold it (or holds a copy that no longer verifies). The
// bytes land in a temporary file and are renamed into place only after
// they matched the integrity hash, so nothing unverified is ever read.
// downloaded is the number of bytes fetched from the registry (0: cached).
func (c *Cache) tarball(ctx context.Context, reg Registry, url string, i npmregistry.Integrity, progress func(done, total int64)) (path string, downloaded int64, err error) {
	path = c.tarballPath(i)
	if ok, err := hashFile(path, i); err == nil && ok {
		c.at("ready", path)
		return path, 0, nil
	} else if err == nil {
		c.at("stale", path)
	}
	// Missing, or a copy that no longer matches (disk corruption, a
	// partial copy): fetch it again. A bad copy is not removed first but
	// replaced by the rename of the verified download: another sync
	// sharing the cache may have found it bad too and already put a
	// verified copy there, which it is about to read.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", 0, cacheError("create "+filepath.Dir(path), err)
	}
	for attempt := 1; ; attempt++ {
		n, err := c.downloadOnce(ctx, reg, url, i, path, progress)
		if err == nil {
			c.at("ready", path)
			return path, n, nil
		}
		var ne *npmregistry.Error
		if attempt >= downloadAttempts || !errors.As(err, &ne) || ne.Kind != npmregistry.KindUnavailable || ctx.Err() != nil {
			return "", n, err
		}
	}
}

func (c *Cache) downloadOnce(ctx context.Context, reg Registry, url string, i npmregistry.Integrity, path string, progress func(done, total int64)) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".download-*")
	if err != nil {
		return 0, cacheError("create a temporary file", err)
	}
	defer os.Remove(tmp.Name())
	c.at("fetch", path)
	n, err := reg.Download(ctx, url, i, tmp, progress)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = cacheError("write "+tmp.Name(), cerr)
	}
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return n, cacheError("write the download", err)
		}
		return n, err
	}
	rep := newReplacer(path, func(p string) bool { ok, err := hashFile(p, i); return err == nil && ok })
	if err := rep.replace(ctx, tmp.Name(), path); err != nil {
		if _, ok := AsError(err); ok {
			return n, err // interrupted while waiting
		}
		e := cacheError(fmt.Sprintf("store %s", path), err)
		if renameBusy(err) {
			e.Hint = "another program (another sync?) kept the cached copy open; rerun when it is done"
		}
		return n, e
	}
	return n, nil
}

// removeStaleTemps removes the temporary files (partial downloads, manifest
// records being written) that syncs killed outright left in the tarball
// directory, once they are older than cutoff; a sync still writing one
// keeps touching it. Failures only cost disk space, so they are ignored.
func (c *Cache) removeStaleTemps(cutoff time.Time) {
	dir := c.tarballDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || !(strings.HasPrefix(name, ".download-") || strings.HasPrefix(name, ".tmp-")) {
			continue
		}
		if info, err := e.Info(); err == nil && info.ModTime().Before(cutoff) {
			_ = os.Remove(filepath.Join(dir, name))
		}
	}
}
