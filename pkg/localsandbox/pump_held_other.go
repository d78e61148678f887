//go:build !unix

package localsandbox

import "os"

// readHeld has nothing to read where pipes have no read deadline to pass
// (the goroutine pump's reads there end only at end of file).
func readHeld(*os.File, []byte) (int, bool) { return 0, false }
