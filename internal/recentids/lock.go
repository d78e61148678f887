package recentids

import (
	"errors"
	"os"
	"path/filepath"
	"time"
)

// lockWait bounds how long Remember and Forget wait for another
// process's lock on the file: the file is a convenience for completion,
// and a command must not hang over it.
var lockWait = 2 * time.Second

// ErrBusy is what Remember and Forget return when another process held
// the file's lock for longer than they wait (2 s): they changed nothing.
var ErrBusy = errors.New("recently used sandboxes: the file is locked by another process")

// lockFile creates the directory of the file at path (mode 0700) and
// takes an exclusive advisory lock on the file beside it (path +
// ".lock"), so that two processes reading, changing and replacing the
// file at once both keep their records. Closing the file it returns
// releases the lock. It returns ErrBusy when the lock is not free within
// lockWait.
func lockFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	lf, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	// The lock is taken waiting in a goroutine, so that the wait can be
	// bounded: one given up on (gaveUp closed) leaves the file to the
	// goroutine, which closes it, releasing the lock if it got it, once
	// lock returns.
	locked, gaveUp := make(chan error), make(chan struct{})
	go func() {
		err := lock(lf)
		select {
		case locked <- err:
		case <-gaveUp:
			lf.Close()
		}
	}()
	timer := time.NewTimer(lockWait)
	defer timer.Stop()
	select {
	case err := <-locked:
		if err != nil {
			lf.Close()
			return nil, err
		}
		return lf, nil
	case <-timer.C:
		close(gaveUp)
		return nil, ErrBusy
	}
}
