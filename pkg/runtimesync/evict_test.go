package runtimesync_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/internal/npmtest"
	"github.com/nimbus-sh/nimbus/pkg/npmregistry"
	"github.com/nimbus-sh/nimbus/pkg/runtimesync"
)

// bashVersions publishes bash 5.3.0 and 5.4.0 next to newEnv's 5.2.37 and
// returns the cache file names (without extension) of the three tarballs,
// oldest version first.
func bashVersions(t *testing.T, e *env) []string {
	t.Helper()
	var names []string
	for i, v := range []string{"5.2.37", "5.3.0", "5.4.0"} {
		rt := bashRuntime(t)
		rt.Version = v
		var tgz []byte
		if i == 0 {
			tgz = rt.Tarball(npmtest.ManifestLast()) // as newEnv publishes it
		} else {
			tgz = rt.Tarball()
			e.npm.Publish("@nimbus-sh/runtime-bash", v, tgz)
		}
		integ, err := npmregistry.ParseIntegrity(npmtest.Integrity(tgz))
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, integ.Name())
	}
	return names
}

// entry returns the paths of a cache entry's tarball and manifest record.
func (e *env) entry(name string) []string {
	dir := filepath.Join(e.cacheDir, "tarballs")
	return []string{filepath.Join(dir, name+".tgz"), filepath.Join(dir, name+".manifest.json")}
}

// usedAgo backdates a cache entry's last use.
func (e *env) usedAgo(name string, d time.Duration) {
	e.t.Helper()
	at := time.Now().Add(-d)
	for _, p := range e.entry(name) {
		if err := os.Chtimes(p, at, at); err != nil {
			e.t.Fatal(err)
		}
	}
}

// present reports whether the entry's tarball is in the cache, and adds the
// size of its files to *size.
func (e *env) present(name string, size *int64) bool {
	e.t.Helper()
	ok := true
	for _, p := range e.entry(name) {
		info, err := os.Stat(p)
		switch {
		case err == nil:
			*size += info.Size()
		case errors.Is(err, fs.ErrNotExist):
			ok = false
		default:
			e.t.Fatal(err)
		}
	}
	return ok
}

// TestSyncEvictsTarballsNoLongerUsed: every tarball a sync ever downloaded
// stayed in the cache for good (a runtime is tens of MB). A successful
// sync now keeps, per runtime, the tarballs it used and the most recently
// used others up to Cache.Keep (2), and removes the rest with their
// manifest records, and files of no runtime it knows; it reports what it
// freed. Other runtimes' tarballs, temporary files and foreign files stay.
func TestSyncEvictsTarballsNoLongerUsed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bash := bashVersions(t, e)
	for _, rt := range []string{"clang", "bash@5.2.37", "bash@5.3.0"} {
		res, err := e.syncer(bucket).Sync(ctx, runtimesync.Options{Runtimes: []string{rt}})
		if err != nil {
			t.Fatal(err)
		}
		if res.CacheFreed != (runtimesync.Totals{}) {
			t.Fatalf("sync of %s freed %+v with no more than 2 tarballs of a runtime", rt, res.CacheFreed)
		}
	}
	tarballs := filepath.Join(e.cacheDir, "tarballs")
	clangs, _ := filepath.Glob(filepath.Join(tarballs, "*.tgz"))
	if len(clangs) != 3 {
		t.Fatalf("cached: %v", clangs)
	}
	e.usedAgo(bash[0], 48*time.Hour)
	e.usedAgo(bash[1], 24*time.Hour)
	// clang was used before either: it is not bash's to evict.
	clang := ""
	for _, p := range clangs {
		if n := filepath.Base(p); n != bash[0]+".tgz" && n != bash[1]+".tgz" {
			clang = n[:len(n)-len(".tgz")]
		}
	}
	e.usedAgo(clang, 72*time.Hour)
	// A tarball without a manifest record (its package failed its checks),
	// a download in progress and a file that is no cache entry.
	orphan := "sha512-" + sha([]byte("orphan")) + sha([]byte("orphan"))
	keepFiles := []string{filepath.Join(tarballs, ".download-123"), filepath.Join(tarballs, "notes.txt"), filepath.Join(tarballs, "backup.tgz")}
	for _, p := range append([]string{filepath.Join(tarballs, orphan+".tgz")}, keepFiles...) {
		if err := os.WriteFile(p, []byte("12345"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// A dry run removes nothing.
	res, err := e.syncer(bucket).Sync(ctx, runtimesync.Options{Runtimes: []string{"bash@5.4.0"}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	if res.CacheFreed != (runtimesync.Totals{}) || !e.present(bash[0], &want) {
		t.Fatalf("a dry run freed %+v", res.CacheFreed)
	}
	want += 5 // the orphan
	e.usedAgo(bash[2], 96*time.Hour)

	res, err = e.syncer(bucket).Sync(ctx, runtimesync.Options{Runtimes: []string{"bash@5.4.0"}})
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	if e.present(bash[0], &size) {
		t.Errorf("bash 5.2.37, the least recently used of three, is still cached")
	}
	if !e.present(bash[1], &size) || !e.present(bash[2], &size) || !e.present(clang, &size) {
		t.Errorf("a tarball that should be kept was removed")
	}
	if _, err := os.Stat(filepath.Join(tarballs, orphan+".tgz")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a tarball of no known runtime is still cached (%v)", err)
	}
	for _, p := range keepFiles {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
		}
	}
	if got := (runtimesync.Totals{Objects: 2, Bytes: want}); res.CacheFreed != got {
		t.Errorf("freed %+v, want %+v", res.CacheFreed, got)
	}

	// Using 5.2.37 again makes 5.3.0 the least recently used.
	if _, err := e.syncer(bucket).Sync(ctx, runtimesync.Options{Runtimes: []string{"bash@5.2.37"}}); err != nil {
		t.Fatal(err)
	}
	if size = 0; e.present(bash[1], &size) || !e.present(bash[0], &size) || !e.present(bash[2], &size) {
		t.Errorf("after using 5.2.37 again: 5.3.0 cached %v, 5.2.37 %v, 5.4.0 %v",
			e.present(bash[1], &size), e.present(bash[0], &size), e.present(bash[2], &size))
	}
}

// TestEvictionSparesTarballsAnotherSyncIsReading: a sync sharing the cache
// has checked a tarball that eviction would choose (bash 5.2.37, the least
// recently used) and is about to read it when another sync, of a third
// bash, finishes and evicts.
// Nothing is removed while it reads (eviction needs the cache lock every
// reading sync holds shared), so it succeeds, and evicts when it is done.
func TestEvictionSparesTarballsAnotherSyncIsReading(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bash := bashVersions(t, e)
	for _, rt := range []string{"bash@5.2.37", "bash@5.3.0"} {
		if _, err := e.syncer(bucket).Sync(ctx, runtimesync.Options{Runtimes: []string{rt}}); err != nil {
			t.Fatal(err)
		}
	}
	e.usedAgo(bash[0], 48*time.Hour)
	e.usedAgo(bash[1], 24*time.Hour)
	// A bucket without the blobs makes the reader read the tarball.
	e.cf.AddBucket(acct, "other")
	reader := e.syncer("other")
	var evicting *runtimesync.Result
	runtimesync.SetCacheHook(reader.Cache, func(point, path string) {
		if point != "ready" || evicting != nil {
			return
		}
		res, err := e.syncer(bucket).Sync(ctx, runtimesync.Options{Runtimes: []string{"bash@5.4.0"}})
		if err != nil {
			t.Errorf("the evicting sync: %v", err)
			return
		}
		evicting = res
		if _, err := os.Stat(path); err != nil {
			t.Errorf("the tarball the reader is about to read: %v", err)
		}
	})
	res, err := reader.Sync(ctx, runtimesync.Options{Runtimes: []string{"bash@5.2.37"}})
	if err != nil {
		t.Fatalf("the reading sync: %v", err)
	}
	if evicting == nil || evicting.CacheFreed != (runtimesync.Totals{}) {
		t.Fatalf("a sync evicted while another read the cache: %+v", evicting)
	}
	// It says it did not evict, and why: skipped silently, a cache that
	// keeps growing would be unexplained.
	if evicting.CacheSkipped != runtimesync.CacheBusy {
		t.Errorf("the sync that could not evict says CacheSkipped %q, want %q", evicting.CacheSkipped, runtimesync.CacheBusy)
	}
	// The reader, done, evicts: 5.3.0 is now the least recently used.
	var size int64
	if res.CacheFreed.Objects != 1 || e.present(bash[1], &size) || !e.present(bash[0], &size) || !e.present(bash[2], &size) {
		t.Fatalf("the reader freed %+v; cached: 5.2.37 %v, 5.3.0 %v, 5.4.0 %v", res.CacheFreed,
			e.present(bash[0], &size), e.present(bash[1], &size), e.present(bash[2], &size))
	}
	if res.CacheSkipped != "" {
		t.Errorf("the reader evicted, but says CacheSkipped %q", res.CacheSkipped)
	}
}

// TestEvictionRemovesRecordsWithoutTarball: a manifest record whose
// tarball is gone (deleted by hand or by a cleaner of cache directories)
// took one of a runtime's Keep slots, so a sync evicted a good tarball in
// its favour. Such a record caches nothing: it is removed first, and the
// good tarball stays.
func TestEvictionRemovesRecordsWithoutTarball(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bash := bashVersions(t, e)
	for _, rt := range []string{"bash@5.2.37", "bash@5.3.0"} {
		if _, err := e.syncer(bucket).Sync(ctx, runtimesync.Options{Runtimes: []string{rt}}); err != nil {
			t.Fatal(err)
		}
	}
	e.usedAgo(bash[0], 48*time.Hour)
	// 5.3.0 was used last, then its tarball went away; its record stays.
	tgz, record := e.entry(bash[1])[0], e.entry(bash[1])[1]
	if err := os.Remove(tgz); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Hour)
	if err := os.Chtimes(record, at, at); err != nil {
		t.Fatal(err)
	}

	if _, err := e.syncer(bucket).Sync(ctx, runtimesync.Options{Runtimes: []string{"bash@5.4.0"}}); err != nil {
		t.Fatal(err)
	}
	var size int64
	if !e.present(bash[0], &size) || !e.present(bash[2], &size) {
		t.Errorf("a cached tarball was evicted in favour of a record without one: 5.2.37 cached %v, 5.4.0 %v",
			e.present(bash[0], &size), e.present(bash[2], &size))
	}
	if _, err := os.Stat(record); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the record without its tarball is still there (%v)", err)
	}
}
