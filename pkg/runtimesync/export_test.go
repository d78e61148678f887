package runtimesync

// SetMaxUnpacked lowers the unpacked bound for a test, which restores it
// with the returned function: a tarball that decompresses past the real
// 4 GiB would take a test many seconds of CPU to build and read.
func SetMaxUnpacked(n int64) (restore func()) {
	old := maxUnpackedTotal
	maxUnpackedTotal = n
	return func() { maxUnpackedTotal = old }
}

// SetCacheHook makes c call hook at the points of a tarball's fetch that
// Cache.hook names, with the tarball's path.
func SetCacheHook(c *Cache, hook func(point, path string)) { c.hook = hook }
