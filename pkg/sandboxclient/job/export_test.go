package job

import "testing"

// SetLocalOS makes downloads name local files by the rules of goos (such as
// "windows") for the rest of the test.
func SetLocalOS(t testing.TB, goos string) {
	old := localOS
	localOS = goos
	t.Cleanup(func() { localOS = old })
}
