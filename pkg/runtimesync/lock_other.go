//go:build !unix && !windows

package runtimesync

import "os"

// Without file locks (wasip1, plan9) syncs rely on the catalog's re-read
// alone, as syncs on different machines do.
func tryLockFile(*os.File) error { return nil }

func lockFile(*os.File) error { return nil }

func lockFileShared(*os.File) error { return nil }

// haveFileLocks is false: cache eviction, which must know that no other
// sync is reading a tarball, does not run.
const haveFileLocks = false
