package runtimesync

import (
	"context"
	"errors"
	"os"
	"path/filepath"
)

// publishLockName is the file in the cache directory whose lock a sync
// holds from re-reading catalog/v1.json to writing it.
const publishLockName = "publish.lock"

// errLocked is what tryLockFile returns when another holder has the lock.
var errLocked = errors.New("locked by another process")

// lockPublish takes the cache directory's publish lock, calling waiting
// first when another sync holds it, and returns the function that
// releases it. The lock closes the window between checkConcurrentWrite's
// read and the catalog's upload: without it two syncs sharing a cache (two
// CI jobs on one runner) could both find the catalog unchanged and the
// later upload drop what the earlier one published. A Worker's bucket
// cannot lock, so syncs on different machines still rely on the re-read
// alone. Waiting ends with ctx.
func lockPublish(ctx context.Context, dir string, waiting func()) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, cacheError("create "+dir, err)
	}
	path := filepath.Join(dir, publishLockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, cacheError("open "+path, err)
	}
	release := func() { f.Close() } // closing the file releases the lock
	err = tryLockFile(f)
	if err == nil {
		return release, nil
	}
	if !errors.Is(err, errLocked) {
		f.Close()
		return nil, cacheError("lock "+path, err)
	}
	waiting()
	done := make(chan error, 1)
	go func() { done <- lockFile(f) }()
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
