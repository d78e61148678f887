//go:build !linux

package localsandbox

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

// pump reads stdout and stderr with one goroutine each: frames of the two
// streams may come out of their written order when both are busy (Linux
// uses one poller instead).
type pump struct{ outR, errR *os.File }

func newPump(outR, errR *os.File) (*pump, error) { return &pump{outR, errR}, nil }

// cutOff stops the pump at t. Safe while run runs.
func (p *pump) cutOff(t time.Time) {
	_ = p.outR.SetReadDeadline(t)
	_ = p.errR.SetReadDeadline(t)
}

func (p *pump) close() {}

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

// run pumps until end of file on both pipes or the cut-off, and returns
// true (it has no end descriptor to return early for). After a write
// error (the client went away) it calls fail once and keeps draining so
// the command is not blocked.
func (p *pump) run(out func(kind byte, b []byte) error, fail func()) bool {
	var wg sync.WaitGroup
	var once sync.Once
	read := func(kind byte, f *os.File) {
		defer wg.Done()
		buf := getPumpBuf(0)
		level := 0
		defer func() { putPumpBuf(buf, level) }()
		for {
			n, err := f.Read(buf)
			if n > 0 {
				if werr := out(kind, buf[:n]); werr != nil {
					once.Do(fail)
					_, _ = io.Copy(io.Discard, f)
					return
				}
			}
			if n == len(buf) && level < len(pumpBufs)-1 {
				putPumpBuf(buf, level)
				level++
				buf = getPumpBuf(level)
			}
			if err != nil {
				return
			}
		}
	}
	wg.Add(2)
	go read(1, p.outR)
	go read(2, p.errR)
	wg.Wait()
	return true
}
