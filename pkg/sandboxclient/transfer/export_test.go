package transfer

import "testing"

// SetWalkFault makes the local walk fail at the paths for which f returns
// an error, as if they could not be read, until the test ends.
func SetWalkFault(t testing.TB, f func(path string) error) {
	testHookWalk = f
	t.Cleanup(func() { testHookWalk = nil })
}
