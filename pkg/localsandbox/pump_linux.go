package localsandbox

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pump reads a command's stdout and stderr from one goroutine, in the order
// they become readable (stdout first when both are), so frames keep the
// order in which the command wrote them as far as the pipes let anyone
// tell; two goroutines racing on two pipes would not. The pipes are
// watched by an epoll instance of their own, which is itself waited for in
// the runtime's poller: a command waiting for output holds no thread. The
// same instance can watch a named shell's state stream (watchState) and
// the command's end (watchEnd), so that the goroutine that waits for the
// command reads all of it.
type pump struct {
	outR, errR *os.File
	ep         *os.File // the epoll instance, non-blocking
	stateR     *os.File // a named shell's state stream (watchState); nil when none
	// endMu guards endFd and endSeen, which the command's timer reads
	// (endReported) while run runs.
	endMu   sync.Mutex
	endFd   int    // watched for the command's end; -1 when none
	endSeen bool   // endFd polled readable, or was dropped
	state   []byte // the tail of the state stream read so far

	// cutMu guards the cut-off (cutOff, from the goroutine that notices
	// the end, while run runs): cut is when reading stops, pushed back by
	// the time out spends blocked on the client, up to cutMax, maxDrain
	// (maxDrainAfterEnd but in tests) after the first cut-off.
	cutMu       sync.Mutex
	cut, cutMax time.Time
	maxDrain    time.Duration

	// What run keeps between calls: the buffer, its size class, the
	// pipes still open, and whether out has failed.
	buf       []byte
	level     int
	open      int
	failed    bool
	readTotal int64 // bytes read from the pipes (drainHeld's progress)
}

// newPump prepares the pump of outR and errR (blocking pipes, read only
// after epoll says so).
func newPump(outR, errR *os.File) (*pump, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	for i, f := range []*os.File{outR, errR} {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(i)}
		if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, int(rawFd(f)), &ev); err != nil {
			syscall.Close(ep)
			return nil, os.NewSyscallError("epoll_ctl", err)
		}
	}
	if err := syscall.SetNonblock(ep, true); err != nil {
		syscall.Close(ep)
		return nil, os.NewSyscallError("fcntl", err)
	}
	return &pump{outR: outR, errR: errR, ep: os.NewFile(uintptr(ep), "epoll"), endFd: -1, open: 2, maxDrain: maxDrainAfterEnd}, nil
}

// Tags of the events: stdout, stderr, the state stream, the end.
const (
	stateEvent = 2
	endEvent   = 3
)

// watchState makes run read f too, a named shell's state stream, keeping
// its tail (stateTail) instead of passing it to out.
func (p *pump) watchState(f *os.File) error {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: stateEvent}
	var err error
	if cerr := p.control(func(ep int) { err = syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, int(rawFd(f)), &ev) }); cerr != nil {
		err = cerr
	}
	if err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	p.stateR = f
	p.open++
	return nil
}

// stateTail returns the last maxShellState bytes of the state stream,
// once run has returned true.
func (p *pump) stateTail() []byte { return endTail(p.state) }

// watchEnd makes run return false once fd polls readable: the command has
// ended. The pump owns fd from here on, and closes it.
func (p *pump) watchEnd(fd int) error {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: endEvent}
	var err error
	if cerr := p.control(func(ep int) { err = syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &ev) }); cerr != nil {
		err = cerr
	}
	if err != nil {
		syscall.Close(fd)
		return os.NewSyscallError("epoll_ctl", err)
	}
	p.endMu.Lock()
	p.endFd = fd
	p.endMu.Unlock()
	return nil
}

// endReported reports whether the command's end has been reported on
// the end descriptor (watchEnd), whether or not run has noticed it yet:
// run notices it only between writes to out, and a slow client can hold
// a write for as long as it likes. Safe while run runs.
func (p *pump) endReported() bool {
	p.endMu.Lock()
	defer p.endMu.Unlock()
	if p.endSeen {
		return true
	}
	if p.endFd < 0 {
		return false
	}
	fds := []unix.PollFd{{Fd: int32(p.endFd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n > 0
	}
}

func (p *pump) control(f func(ep int)) error {
	rc, err := p.ep.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(func(ep uintptr) { f(int(ep)) })
}

// dropEnd stops watching the end descriptor and closes it.
func (p *pump) dropEnd() {
	p.endMu.Lock()
	defer p.endMu.Unlock()
	if p.endFd < 0 {
		return
	}
	_ = p.control(func(ep int) { _ = syscall.EpollCtl(ep, syscall.EPOLL_CTL_DEL, p.endFd, nil) })
	syscall.Close(p.endFd)
	p.endFd, p.endSeen = -1, true
}

// cutOff stops the pump at t: output still unread then is left (a process
// that escaped and holds the pipes open). Time out then spends blocked
// on a slow client moves t back (up to maxDrainAfterEnd), so output the
// command wrote before its end is not lost to the client's pace. Safe
// while run runs.
func (p *pump) cutOff(t time.Time) {
	p.cutMu.Lock()
	defer p.cutMu.Unlock()
	p.cut, p.cutMax = t, t.Add(p.maxDrain)
	_ = p.ep.SetReadDeadline(t)
}

// delayCut moves the cut-off back by d, the time out was blocked.
func (p *pump) delayCut(d time.Duration) {
	p.cutMu.Lock()
	defer p.cutMu.Unlock()
	if p.cut.IsZero() {
		return
	}
	p.cut = p.cut.Add(d)
	if p.cut.After(p.cutMax) {
		p.cut = p.cutMax
	}
	_ = p.ep.SetReadDeadline(p.cut)
}

// close releases the epoll instance and the end descriptor (the pipes
// are the caller's).
func (p *pump) close() {
	p.dropEnd()
	_ = p.ep.Close()
	if p.buf != nil {
		putPumpBuf(p.buf, p.level)
		p.buf = nil
	}
}

// run pumps until end of file on both pipes or the cut-off, and returns
// true; or, once the end descriptor (watchEnd) has polled readable, stops
// watching it and returns false, to be called again to go on. After a
// write error (the client went away) it calls fail once and keeps
// draining so the command is not blocked.
func (p *pump) run(out func(kind byte, b []byte) error, fail func()) bool {
	rc, err := p.ep.SyscallConn()
	if err != nil {
		return true
	}
	fds := [3]int{int(rawFd(p.outR)), int(rawFd(p.errR)), -1}
	if p.stateR != nil {
		fds[stateEvent] = int(rawFd(p.stateR))
	}
	if p.buf == nil {
		p.buf = getPumpBuf(p.level)
	}
	defer func() {
		if p.open == 0 {
			putPumpBuf(p.buf, p.level)
			p.buf = nil
		}
	}()
	var events [4]syscall.EpollEvent
	for p.open > 0 {
		var n int
		var werr error
		err := rc.Read(func(ep uintptr) bool {
			n, werr = syscall.EpollWait(int(ep), events[:], 0)
			return werr != nil && werr != syscall.EINTR || n > 0
		})
		if err != nil || werr != nil {
			// The cut-off, or the epoll instance failed. What the
			// pipes already hold was written before the cut-off
			// (before the command's end, unless a process escaped),
			// and a pump that was not scheduled for the whole grace
			// period (a loaded machine) would lose it all: it is read
			// now, without waiting for more.
			if werr == nil {
				p.drainHeld(rc, fds, out, fail)
			}
			return true
		}
		if p.handle(events[:n], fds, out, fail) {
			p.dropEnd()
			if p.open > 0 {
				return false
			}
		}
	}
	return true
}

// drainHeld reads what the pipes hold at the cut-off without waiting for
// more, up to finalDrainMax.
func (p *pump) drainHeld(rc syscall.RawConn, fds [3]int, out func(kind byte, b []byte) error, fail func()) {
	var events [4]syscall.EpollEvent
	for read := 0; p.open > 0 && read < finalDrainMax; {
		var n int
		var werr error
		if err := rc.Control(func(ep uintptr) {
			for {
				n, werr = syscall.EpollWait(int(ep), events[:], 0)
				if werr != syscall.EINTR {
					return
				}
			}
		}); err != nil || werr != nil || n == 0 {
			return
		}
		before := p.readTotal
		p.handle(events[:n], fds, out, fail)
		if p.readTotal == before {
			return
		}
		read += int(p.readTotal - before)
	}
}

// handle reads once from each descriptor in events and reports whether
// the end descriptor was among them.
func (p *pump) handle(events []syscall.EpollEvent, fds [3]int, out func(kind byte, b []byte) error, fail func()) (ended bool) {
	kinds := [3]byte{1, 2, 0}
	var ready [4]bool
	for _, ev := range events {
		ready[ev.Fd] = true
	}
	for i := range fds {
		if !ready[i] {
			continue
		}
		buf := p.buf
		m, err := syscall.Read(fds[i], buf)
		if errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.EAGAIN) {
			continue
		}
		if m > 0 {
			p.readTotal += int64(m)
		}
		if m > 0 && i == stateEvent {
			p.state = appendTail(p.state, buf[:m])
		} else if m > 0 && !p.failed {
			start := time.Now()
			if werr := out(kinds[i], buf[:m]); werr != nil {
				p.failed = true
				fail()
			}
			p.delayCut(time.Since(start))
		}
		if m <= 0 || err != nil {
			// End of file (or an error): no more events for it.
			_ = p.control(func(ep int) {
				_ = syscall.EpollCtl(ep, syscall.EPOLL_CTL_DEL, fds[i], nil)
			})
			p.open--
		}
		if m == len(buf) && p.level < len(pumpBufs)-1 {
			// A busy stream: read more at a time.
			putPumpBuf(buf, p.level)
			p.level++
			p.buf = getPumpBuf(p.level)
		}
	}
	return ready[endEvent]
}

// rawFd returns the descriptor of f without switching it to blocking mode
// (as Fd would); f stays open until the pump has returned.
func rawFd(f *os.File) int32 {
	var fd int32 = -1
	if rc, err := f.SyscallConn(); err == nil {
		_ = rc.Control(func(u uintptr) { fd = int32(u) })
	}
	return fd
}
