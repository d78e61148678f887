//go:build windows

package recentids

import (
	"os"

	"golang.org/x/sys/windows"
)

// lock takes f's exclusive lock (on its first byte), waiting for it.
func lock(f *os.File) error {
	var ol windows.Overlapped
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &ol)
}
