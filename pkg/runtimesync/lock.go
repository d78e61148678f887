package runtimesync

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
)

// publishLockName is the file in the cache directory whose lock a sync
// holds from re-reading catalog/v1.json to writing it.
const publishLockName = "publish.lock"

// errLocked is what tryLockFile returns when another holder has the lock.
var errLocked = errors.New("locked by another process")

// cacheLockName is the file in the cache directory whose lock guards the
// cached tarballs against eviction: every sync holds it shared while it
// reads the cache (from its first look to the end of its scans), and an
// eviction takes it exclusively, without waiting, or does not run.
const cacheLockName = "cache.lock"

// lockPublish takes the cache directory's publish lock, calling waiting
// first when another sync holds it, and returns the function that
// releases it. The lock closes the window between checkConcurrentWrite's
// read and the catalog's upload: without it two syncs sharing a cache (two
// CI jobs on one runner) could both find the catalog unchanged and the
// later upload drop what the earlier one published. A Worker's bucket
// cannot lock, so syncs on different machines still rely on the re-read
// alone. Waiting ends with ctx.
func lockPublish(ctx context.Context, dir string, waiting func()) (unlock func(), err error) {
	return lockAt(ctx, dir, publishLockName, false, waiting)
}

// lockCacheShared takes the cache lock shared, waiting (until ctx ends) for
// an eviction in progress, which takes moments. The returned function
// releases it and may be called more than once.
func lockCacheShared(ctx context.Context, dir string) (unlock func(), err error) {
	release, err := lockAt(ctx, dir, cacheLockName, true, func() {})
	if err != nil {
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(release) }, nil
}

// tryLockCache takes the cache lock exclusively if no sync holds it. When
// it cannot, skip says why: CacheBusy when another sync holds it,
// CacheLockUnavailable when the lock file cannot be opened or locked, or
// the platform has no file locks (an eviction then cannot know what
// another sync is reading, and does not run).
func tryLockCache(dir string) (unlock func(), skip CacheSkip) {
	if !haveFileLocks {
		return nil, CacheLockUnavailable
	}
	f, err := os.OpenFile(filepath.Join(dir, cacheLockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, CacheLockUnavailable
	}
	if err := tryLockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, CacheBusy
		}
		return nil, CacheLockUnavailable
	}
	return func() { f.Close() }, ""
}

// lockAt locks the file name in dir, exclusively or shared, calling
// waiting first when it has to wait, and returns the function that
// releases the lock. Waiting ends with ctx.
func lockAt(ctx context.Context, dir, name string, shared bool, waiting func()) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, cacheError("create "+dir, err)
	}
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, cacheError("open "+path, err)
	}
	release := func() { f.Close() } // closing the file releases the lock
	lock := lockFile
	if shared {
		lock = lockFileShared
	} else {
		err = tryLockFile(f)
		if err == nil {
			return release, nil
		}
		if !errors.Is(err, errLocked) {
			f.Close()
			return nil, cacheError("lock "+path, err)
		}
		waiting()
	}
	done := make(chan error, 1)
	go func() { done <- lock(f) }()
	select {
	case err := <-done:
		if err != nil {
			f.Close()
			return nil, cacheError("lock "+path, err)
		}
		return release, nil
	case <-ctx.Done():
		// The lock may still be granted: release it then.
		go func() { <-done; f.Close() }()
		return nil, interrupted(ctx.Err())
	}
}
