//go:build !unix && !windows

package runtimesync

import "os"

// Without file locks (wasip1, plan9) syncs rely on the catalog's re-read
// alone, as syncs on different machines do.
func tryLockFile(*os.File) error { return nil }

func lockFile(*os.File) error { return nil }
