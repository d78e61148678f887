//go:build !unix

package localsandbox

// checkDataDir: New refuses to run outside unix.
func checkDataDir(dir, sub string) error { return nil }
