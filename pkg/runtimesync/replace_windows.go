//go:build windows

package runtimesync

import (
	"errors"

	"golang.org/x/sys/windows"
)

// renameBusy: MoveFileEx refuses to replace a file another process has
// open with ERROR_ACCESS_DENIED or ERROR_SHARING_VIOLATION (and a locked
// range with ERROR_LOCK_VIOLATION).
func renameBusy(err error) bool {
	return errors.Is(err, windows.ERROR_SHARING_VIOLATION) || errors.Is(err, windows.ERROR_ACCESS_DENIED) ||
		errors.Is(err, windows.ERROR_LOCK_VIOLATION)
}
