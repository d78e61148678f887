//go:build !windows

package runtimesync

// renameBusy: elsewhere a rename replaces a file that is open (readers
// keep the old one), so no failure is worth retrying.
func renameBusy(error) bool { return false }
