//go:build !linux

package localsandbox

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// pumpStreams reads stdout and stderr with one goroutine each: frames of
// the two streams may come out of their written order when both are busy
// (Linux uses one poller instead). The deadline is applied to the files.
func pumpStreams(outR, errR *os.File, out func(kind byte, p []byte) error, fail func(), deadline *atomic.Int64) {
	var wg sync.WaitGroup
	var once sync.Once
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if d := deadline.Load(); d != 0 {
					_ = outR.SetReadDeadline(time.Unix(0, d))
					_ = errR.SetReadDeadline(time.Unix(0, d))
					return
				}
			}
		}
	}()
	pump := func(kind byte, f *os.File) {
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
	go pump(1, outR)
	go pump(2, errR)
	wg.Wait()
	close(stop)
}
