package transfer

import (
	"testing"
	"time"
)

// SetWalkFault makes the local walk fail at the paths for which f returns
// an error, as if they could not be read, until the test ends.
func SetWalkFault(t testing.TB, f func(path string) error) {
	testHookWalk = f
	t.Cleanup(func() { testHookWalk = nil })
}

// SetCleanupExecTimeout lowers the bound of the rm that removes the parts
// of a failed split write, until the test ends.
func SetCleanupExecTimeout(t testing.TB, d time.Duration) {
	old := cleanupExecTimeout
	cleanupExecTimeout = d
	t.Cleanup(func() { cleanupExecTimeout = old })
}

// SetLocalOS makes downloads apply the file name rules of goos (such as
// "windows") instead of this system's, until the test ends.
func SetLocalOS(t testing.TB, goos string) {
	old := localOS
	localOS = goos
	t.Cleanup(func() { localOS = old })
}

// HostBase is the name a copy of the local path p, read on goos, takes
// inside a sandbox directory ("" when p is a root).
func HostBase(goos, p string) string { return hostBase(goos, p) }
