//go:build !unix

package regularfile

// nonblock: opening does not wait for a writer here; Stat is the check.
const nonblock = 0
