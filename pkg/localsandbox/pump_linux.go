package localsandbox

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// pump reads a command's stdout and stderr from one goroutine, in the order
// they become readable (stdout first when both are), so frames keep the
// order in which the command wrote them as far as the pipes let anyone
// tell; two goroutines racing on two pipes would not. The pipes are
// watched by an epoll instance of their own, which is itself waited for in
// the runtime's poller: a command waiting for output holds no thread.
type pump struct {
	outR, errR *os.File
	ep         *os.File // the epoll instance, non-blocking
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
	return &pump{outR: outR, errR: errR, ep: os.NewFile(uintptr(ep), "epoll")}, nil
}

// cutOff stops the pump at t: output still unread then is left (a process
// that escaped and holds the pipes open). Safe while run runs.
func (p *pump) cutOff(t time.Time) { _ = p.ep.SetReadDeadline(t) }

// close releases the epoll instance (the pipes are the caller's).
func (p *pump) close() { _ = p.ep.Close() }

// run pumps until end of file on both pipes or the cut-off. After a write
// error (the client went away) it calls fail once and keeps draining so
// the command is not blocked.
func (p *pump) run(out func(kind byte, b []byte) error, fail func()) {
	rc, err := p.ep.SyscallConn()
	if err != nil {
		return
	}
	fds := [2]int{int(rawFd(p.outR)), int(rawFd(p.errR))}
	kinds := [2]byte{1, 2}
	buf := getPumpBuf(0)
	level := 0
	defer func() { putPumpBuf(buf, level) }()
	open, failed := 2, false
	var events [2]syscall.EpollEvent
	for open > 0 {
		var n int
		var werr error
		err := rc.Read(func(ep uintptr) bool {
			n, werr = syscall.EpollWait(int(ep), events[:], 0)
			return werr != nil && werr != syscall.EINTR || n > 0
		})
		if err != nil || werr != nil {
			// The cut-off, or the epoll instance failed.
			return
		}
		var ready [2]bool
		for _, ev := range events[:n] {
			ready[ev.Fd] = true
		}
		for i := range fds {
			if !ready[i] {
				continue
			}
			m, err := syscall.Read(fds[i], buf)
			if errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.EAGAIN) {
				continue
			}
			if m > 0 && !failed {
				if werr := out(kinds[i], buf[:m]); werr != nil {
					failed = true
					fail()
				}
			}
			if m <= 0 || err != nil {
				// End of file (or an error): no more events for it.
				_ = rc.Control(func(ep uintptr) {
					_ = syscall.EpollCtl(int(ep), syscall.EPOLL_CTL_DEL, fds[i], nil)
				})
				open--
			}
			if m == len(buf) && level < len(pumpBufs)-1 {
				// A busy stream: read more at a time.
				putPumpBuf(buf, level)
				level++
				buf = getPumpBuf(level)
			}
		}
	}
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
