package config

import "testing"

// SetLocalOS makes path values follow the rules of goos (such as
// "windows") instead of this system's, until the test ends.
func SetLocalOS(t testing.TB, goos string) {
	old := localOS
	localOS = goos
	t.Cleanup(func() { localOS = old })
}
