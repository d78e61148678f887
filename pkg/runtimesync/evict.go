package runtimesync

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/npmregistry"
)

// DefaultKeep is how many tarballs of each runtime the cache keeps after a
// successful sync (Cache.Keep): the version in use and the one before it,
// so going back one version downloads nothing.
const DefaultKeep = 2

// isEntryName reports whether name is an integrity name
// (npmregistry.Integrity.Name, "sha512-<hex>"), which cached tarballs and
// their manifest records are named after; other files in the tarball
// directory are not the cache's to remove.
func isEntryName(name string) bool {
	algo, digest, ok := strings.Cut(name, "-")
	if !ok || digest == "" || (algo != "sha1" && algo != "sha256" && algo != "sha384" && algo != "sha512") {
		return false
	}
	for _, c := range digest {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// markUsed sets the modification time of a cached tarball and of its
// manifest record to now: eviction keeps the most recently used. Failures
// only make an entry look older, so they are ignored.
func (c *Cache) markUsed(i npmregistry.Integrity) {
	now := time.Now()
	_ = os.Chtimes(c.tarballPath(i), now, now)
	_ = os.Chtimes(c.manifestPath(i), now, now)
}

// cacheEntry is a cached tarball and its manifest record (either may be
// missing), named after the tarball's integrity.
type cacheEntry struct {
	name    string
	files   []string
	size    int64
	used    time.Time
	runtime string // from the manifest record; "" without a readable one
	tarball bool   // the tarball is there, not only its record
}

// evict removes the cached tarballs (with their manifest records) that a
// sync that just succeeded leaves behind: for each runtime, named by the
// record, those this sync used (inUse, by integrity name) and the most
// recently used others up to Keep in all are kept. An entry without a
// readable record (a package that failed its checks, a record lost) is
// removed unless this sync used it: a later sync downloads it again. So is
// a record without its tarball, which takes none of the Keep slots.
//
// It runs only under the exclusive cache lock, taken without waiting: a
// sync holds that lock shared from its first look at the cache until its
// last tarball is read, so nothing another sync is reading or about to
// read is removed (staged blobs, which uploads read, are in each sync's
// own staging directory and never evicted). When another sync holds it,
// or the lock cannot be used, nothing is removed and skip says why; a
// later sync evicts. Failures only leave files behind, so they are
// ignored; freed counts what was removed.
func (c *Cache) evict(inUse map[string]bool) (freed Totals, skip CacheSkip) {
	unlock, skip := tryLockCache(c.Dir)
	if skip != "" {
		return freed, skip
	}
	defer unlock()
	keep := c.Keep
	if keep <= 0 {
		keep = DefaultKeep
	}
	dir := c.tarballDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return freed, ""
	}
	byName := map[string]*cacheEntry{}
	var entries []*cacheEntry
	for _, e := range ents {
		file := e.Name()
		name, isTarball := strings.CutSuffix(file, tarballExt)
		if !isTarball {
			var ok bool
			if name, ok = strings.CutSuffix(file, manifestExt); !ok {
				continue
			}
		}
		if !e.Type().IsRegular() || !isEntryName(name) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		ce := byName[name]
		if ce == nil {
			ce = &cacheEntry{name: name}
			byName[name] = ce
			entries = append(entries, ce)
		}
		ce.files = append(ce.files, file)
		ce.tarball = ce.tarball || isTarball
		ce.size += info.Size()
		if t := info.ModTime(); t.After(ce.used) {
			ce.used = t
		}
	}
	kept := map[string]int{}
	for _, ce := range entries {
		if m := readRecord(filepath.Join(dir, ce.name+manifestExt)); m != nil {
			ce.runtime = m.Name
		}
		if inUse[ce.name] {
			kept[ce.runtime]++
		}
	}
	// Most recently used first; the name settles ties, so the outcome does
	// not depend on the directory's order.
	slices.SortFunc(entries, func(a, b *cacheEntry) int {
		if c := b.used.Compare(a.used); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	for _, ce := range entries {
		if inUse[ce.name] {
			continue
		}
		// A record whose tarball is gone (removed by hand, or by a
		// cleaner of cache directories) caches nothing: a sync downloads
		// that tarball again either way, so it is garbage, and keeping it
		// would evict a tarball that saves a download.
		if ce.runtime != "" && ce.tarball && kept[ce.runtime] < keep {
			kept[ce.runtime]++
			continue
		}
		removed := false
		for _, f := range ce.files {
			path := filepath.Join(dir, f)
			info, err := os.Stat(path)
			if err != nil || os.Remove(path) != nil {
				continue
			}
			freed.Bytes += info.Size()
			removed = removed || strings.HasSuffix(f, tarballExt)
		}
		if removed {
			freed.Objects++
		}
	}
	return freed, ""
}
