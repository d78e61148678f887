package localsandbox

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

// maxDrainAfterEnd bounds how long output is read after the command's
// end when the client is slow to take it: the grace period given to
// cutOff only counts time spent waiting for the pipes. Both pumps share
// it.
const maxDrainAfterEnd = time.Minute

// finalDrainMax bounds what is read at the cut-off from what the pipes
// already hold: more than full pipes hold (64 KiB each by default on
// Linux, 1 MiB at most unless an administrator raised
// /proc/sys/fs/pipe-max-size), so a process that escaped and writes on
// cannot keep the pump going. Both pumps share it.
const finalDrainMax = 4 << 20

// goroutinePump reads stdout and stderr with one goroutine each: frames
// of the two streams may come out of their written order when both are
// busy (Linux uses one poller instead, pump_linux.go). It is the pump
// where there is no epoll; it builds everywhere so that the tests on
// Linux, where CI runs, drive it too.
type goroutinePump struct {
	outR, errR *os.File

	// mu guards the cut-off, set by cutOff from the goroutine that
	// notices the end while run runs. cut is when reading stops; the
	// time during which a reader is blocked in out does not count
	// towards it (busy readers are in out, since busySince), up to
	// cutMax, maxDrain (maxDrainAfterEnd but in tests) after the first
	// cut-off. While one is, both pipes' deadlines are at cutMax: the
	// other pipe's output is not lost either to a client taking its
	// time over the first's.
	mu          sync.Mutex
	cut, cutMax time.Time
	maxDrain    time.Duration
	busy        int
	busySince   time.Time
}

// newGoroutinePump prepares the pump of outR and errR, pipes whose reads
// honour deadlines (os.Pipe).
func newGoroutinePump(outR, errR *os.File) (*goroutinePump, error) {
	return &goroutinePump{outR: outR, errR: errR, maxDrain: maxDrainAfterEnd}, nil
}

// cutOff stops the pump at t: output still unread then is left (a process
// that escaped and holds the pipes open). Time spent blocked in out on a
// slow client moves t back (up to maxDrainAfterEnd), so output the
// command wrote before its end is not lost to the client's pace. Safe
// while run runs.
func (p *goroutinePump) cutOff(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut, p.cutMax = t, t.Add(p.maxDrain)
	if p.busy > 0 {
		// Only the time blocked from now on counts.
		p.busySince = time.Now()
		p.setDeadline(p.cutMax)
		return
	}
	p.setDeadline(t)
}

// enterOut stops the grace clock while a reader is blocked in out.
func (p *goroutinePump) enterOut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy++
	if p.busy > 1 {
		return
	}
	p.busySince = time.Now()
	if !p.cut.IsZero() {
		p.setDeadline(p.cutMax)
	}
}

// leaveOut starts the grace clock again once no reader is blocked in
// out, the cut-off moved back by the time they were.
func (p *goroutinePump) leaveOut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy--
	if p.busy > 0 || p.cut.IsZero() {
		return
	}
	p.cut = p.cut.Add(time.Since(p.busySince))
	if p.cut.After(p.cutMax) {
		p.cut = p.cutMax
	}
	p.setDeadline(p.cut)
}

func (p *goroutinePump) setDeadline(t time.Time) {
	_ = p.outR.SetReadDeadline(t)
	_ = p.errR.SetReadDeadline(t)
}

func (p *goroutinePump) close() {}

// run pumps until end of file on both pipes or the cut-off, and returns
// true (it has no end descriptor to return early for). After a write
// error (the client went away) it calls fail once and keeps draining so
// the command is not blocked.
func (p *goroutinePump) run(out func(kind byte, b []byte) error, fail func()) bool {
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
				p.enterOut()
				werr := out(kind, buf[:n])
				p.leaveOut()
				if werr != nil {
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
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// The cut-off. What the pipe already holds was written
				// before it (before the command's end, unless a process
				// escaped), and a reader that was not scheduled for the
				// whole grace period (a loaded machine) would lose it
				// all: it is read now, without waiting for more.
				for held := 0; held < finalDrainMax; {
					n, ok := readHeld(f, buf)
					if !ok {
						break
					}
					held += n
					if werr := out(kind, buf[:n]); werr != nil {
						once.Do(fail)
						break
					}
				}
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
