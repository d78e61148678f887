//go:build windows

package runtimesync

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

func lockRange(f *os.File, flags uint32) error {
	var ol windows.Overlapped
	return windows.LockFileEx(windows.Handle(f.Fd()), flags, 0, 1, 0, &ol)
}

func tryLockFile(f *os.File) error {
	err := lockRange(f, windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return errLocked
	}
	return err
}

// haveFileLocks: LockFileEx guards the cache, so eviction can run.
const haveFileLocks = true

func lockFile(f *os.File) error { return lockRange(f, windows.LOCKFILE_EXCLUSIVE_LOCK) }

// lockFileShared: without LOCKFILE_EXCLUSIVE_LOCK, LockFileEx takes a
// shared lock, which any number of handles hold at once.
func lockFileShared(f *os.File) error { return lockRange(f, 0) }
