//go:build !linux

package localsandbox

import "os"

// replaceFile moves the new file tmp over target, both entries of
// directory d: a rename, atomic for readers.
func replaceFile(d *os.Root, tmp, target string, _ bool) error {
	return d.Rename(tmp, target)
}
