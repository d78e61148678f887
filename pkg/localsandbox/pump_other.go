//go:build !linux

package localsandbox

import (
	"errors"
	"os"
)

// pump is the goroutine pump where there is no epoll.
type pump = goroutinePump

func newPump(outR, errR *os.File) (*pump, error) { return newGoroutinePump(outR, errR) }

// watchState is not offered here: a named shell's state stream is read
// on a goroutine of its own.
func (p *pump) watchState(*os.File) error { return errors.ErrUnsupported }

func (p *pump) stateTail() []byte { return nil }

// watchEnd is not offered here: the command's end is waited for on a
// goroutine of its own.
func (p *pump) watchEnd(int) error { return errors.ErrUnsupported }

// endReported is false: without an end descriptor, the end is noticed
// by the goroutine that waits for it, which stops the timer itself.
func (p *pump) endReported() bool { return false }
