//go:build !linux

package localsandbox

import "os"

// pump is the goroutine pump where there is no epoll.
type pump = goroutinePump

func newPump(outR, errR *os.File) (*pump, error) { return newGoroutinePump(outR, errR) }
