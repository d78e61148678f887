//go:build windows

package runtimesync

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

func lockRange(f *os.File, flags uint32) error {
	var ol windows.Overlapped
	return windows.LockFileEx(windows.Handle(f.Fd()), flags|windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &ol)
}

func tryLockFile(f *os.File) error {
	err := lockRange(f, windows.LOCKFILE_FAIL_IMMEDIATELY)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return errLocked
	}
	return err
}

func lockFile(f *os.File) error { return lockRange(f, 0) }
