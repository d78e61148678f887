package localsandbox

import (
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

const (
	pollIn   = 0x1
	pollErr  = 0x8
	pollHup  = 0x10
	pollNval = 0x20
)

// pumpStreams reads stdout and stderr from one goroutine with ppoll, in the
// order they become readable (stdout first when both are), so frames keep
// the order in which the command wrote them; two goroutines racing on two
// pipes would not. After a write error (the client went away) it calls
// fail once and keeps draining so the command is not blocked. It returns
// at end of file on both, or once the deadline (Unix nanoseconds, 0 for
// none) has passed.
func pumpStreams(outR, errR *os.File, out func(kind byte, p []byte) error, fail func(), deadline *atomic.Int64) {
	fds := [2]pollFd{{fd: rawFd(outR), events: pollIn}, {fd: rawFd(errR), events: pollIn}}
	kinds := [2]byte{1, 2}
	buf := getPumpBuf(0)
	level := 0
	defer func() { putPumpBuf(buf, level) }()
	open, failed := 2, false
	for open > 0 {
		if d := deadline.Load(); d != 0 && time.Now().UnixNano() > d {
			return
		}
		ts := syscall.NsecToTimespec(int64(100 * time.Millisecond))
		n, _, e := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), 2, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		if e == syscall.EINTR || n == 0 {
			continue
		}
		if e != 0 {
			return
		}
		for i := range fds {
			if fds[i].fd < 0 || fds[i].revents&(pollIn|pollErr|pollHup|pollNval) == 0 {
				continue
			}
			m, err := syscall.Read(int(fds[i].fd), buf)
			if err == syscall.EAGAIN || err == syscall.EINTR {
				continue
			}
			if m > 0 && !failed {
				if werr := out(kinds[i], buf[:m]); werr != nil {
					failed = true
					fail()
				}
			}
			if m <= 0 || err != nil {
				fds[i].fd = -1
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
