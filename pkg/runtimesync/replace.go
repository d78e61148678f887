package runtimesync

import (
	"context"
	"os"
	"time"
)

// A verified download replaces the cached copy by a rename. On Windows the
// rename fails while another process has the old file open without
// FILE_SHARE_DELETE (Go's os.Open does not ask for it): another sync
// sharing the cache that is checking or reading it. Such a reader closes
// the file within a scan, so the rename is retried a few times with a
// doubling delay, about 1.5 s in all, before the sync gives up.
const (
	replaceAttempts = 6
	replaceBackoff  = 50 * time.Millisecond
)

// replacer renames a verified download over the cached copy. Its parts are
// fields so a test drives the retry logic on any GOOS.
type replacer struct {
	// rename is os.Rename.
	rename func(oldpath, newpath string) error
	// busy reports whether a failed rename is one that succeeds once
	// another process closes the target (renameBusy).
	busy func(error) bool
	// settled reports whether the target already holds a verified copy:
	// names are the content's hash, so a copy another sync put there
	// holds the same bytes, and this download is not needed.
	settled func() bool
	// sleep waits d or until ctx ends.
	sleep func(ctx context.Context, d time.Duration) error
}

func newReplacer(path string, check func(path string) bool) replacer {
	return replacer{rename: os.Rename, busy: renameBusy, settled: func() bool { return check(path) }, sleep: sleepCtx}
}

// replace moves tmp to path. A rename refused because path is open is
// retried, unless path meanwhile holds a verified copy, which is then
// kept (and tmp left to its caller to remove).
func (r replacer) replace(ctx context.Context, tmp, path string) error {
	delay := replaceBackoff
	for attempt := 1; ; attempt++ {
		err := r.rename(tmp, path)
		if err == nil || !r.busy(err) {
			return err
		}
		if r.settled() {
			return nil
		}
		if attempt >= replaceAttempts {
			return err
		}
		if err := r.sleep(ctx, delay); err != nil {
			return err
		}
		delay *= 2
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return interrupted(ctx.Err())
	}
}
