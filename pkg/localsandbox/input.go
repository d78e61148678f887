package localsandbox

import (
	"errors"
	"io"
	"sync"
)

// maxPendingInput bounds the input that waits for a process to read it.
// A Worker's process takes input into its virtual OS at once; here the
// pipe holds 64 KiB, so what a process has not read yet is queued, and a
// process that never reads costs at most this much memory, not a request
// held open (and a thread blocked) for ever.
const maxPendingInput = 8 << 20

var (
	// errInputEnded: the input was ended (endProcessInput) or closed (the
	// process exited, the terminal closed).
	errInputEnded = errors.New("input ended")
	// errInputFull: the queue's limit is waiting for the reader already.
	errInputFull = errors.New("input full")
	// errInputStopped: the caller stopped waiting for room (a terminal
	// socket that stopped being the owner).
	errInputStopped = errors.New("input stopped")
)

// inputQueue feeds a reader that may not read (a process's stdin pipe, a
// terminal's PTY) from one goroutine, so that a writer never blocks on it:
// chunks arrive in order, what waits is bounded by limit, and end closes
// the input only after what was written before it. Both a process's input
// and a terminal's keystrokes go through it; they differ only in what a
// full queue does (write refuses, writeWait waits) and in who closes the
// writer (closer, or the terminal itself, which also reads the PTY).
type inputQueue struct {
	w      io.Writer
	closer io.Closer // closed when the input ends or closes; nil: never
	limit  int       // bytes that may wait for the reader
	// gone, when set, reports that nothing can read w any more (its
	// reader closed it or exited): a write then fails at once instead of
	// being accepted for a pump that can only drop it.
	gone func() bool

	mu      sync.Mutex
	queue   []string
	pending int  // bytes queued or being written, not yet taken
	pumping bool // a goroutine is writing the queue
	ended   bool // end asked to close once the queue drained
	closed  bool // no more input: the queue was dropped
	// room is closed (and replaced) when pending shrinks or the queue
	// closes: writeWait's wake-up.
	room chan struct{}
}

// newInputQueue returns the queue of w; closer (w itself for a pipe, nil
// when its owner closes w) is closed when the input ends.
func newInputQueue(w io.Writer, closer io.Closer, limit int) *inputQueue {
	return &inputQueue{w: w, closer: closer, limit: limit, room: make(chan struct{})}
}

// write queues data, or fails with errInputFull, writing nothing, when it
// would take what waits beyond the limit. force skips the limit (the stdin
// of startProcess, already bounded by the request size).
func (q *inputQueue) write(data string, force bool) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ended || q.closed {
		return errInputEnded
	}
	if q.gone != nil && q.gone() {
		q.closeLocked()
		return errInputEnded
	}
	if !force && q.pending+len(data) > q.limit {
		return errInputFull
	}
	q.enqueueLocked(data)
	return nil
}

// writeWait queues data, first waiting while it would take what waits
// beyond the limit (it stops the caller, not the process). A chunk is
// taken when nothing waits whatever its size, so one larger than the
// limit cannot wait for ever. It fails with errInputEnded when the queue
// ends or closes, and with errInputStopped when stop is closed while it
// waits; then nothing was queued.
func (q *inputQueue) writeWait(data string, stop <-chan struct{}) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if q.ended || q.closed {
			return errInputEnded
		}
		if q.pending == 0 || q.pending+len(data) <= q.limit {
			q.enqueueLocked(data)
			return nil
		}
		room := q.room
		q.mu.Unlock()
		select {
		case <-room:
			q.mu.Lock()
		case <-stop:
			q.mu.Lock()
			return errInputStopped
		}
	}
}

func (q *inputQueue) enqueueLocked(data string) {
	if data == "" {
		return
	}
	q.queue = append(q.queue, data)
	q.pending += len(data)
	if !q.pumping {
		q.pumping = true
		go q.pump()
	}
}

// roomLocked wakes the writers waiting for room.
func (q *inputQueue) roomLocked() {
	close(q.room)
	q.room = make(chan struct{})
}

func (q *inputQueue) pump() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.queue) > 0 && !q.closed {
		s := q.queue[0]
		q.queue[0] = ""
		q.queue = q.queue[1:]
		q.mu.Unlock()
		_, err := io.WriteString(q.w, s)
		q.mu.Lock()
		if err != nil {
			// The reader is gone (EPIPE) or close ran: what is queued
			// can never be read.
			q.closeLocked()
			break
		}
		if !q.closed { // else close reset the count
			q.pending -= len(s)
			q.roomLocked()
		}
	}
	q.pumping = false
	if q.ended {
		q.closeLocked()
	}
}

// end closes the input once everything queued before it was written; it
// reports false when the input had ended already.
func (q *inputQueue) end() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ended || q.closed {
		return false
	}
	q.ended = true
	if !q.pumping {
		q.closeLocked()
	}
	return true
}

// close drops what is queued and closes the input now: the reader has
// gone (the process exited, the terminal closed). Closing the writer also
// ends a write blocked in the pump; without a closer, its owner does.
func (q *inputQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closeLocked()
}

func (q *inputQueue) closeLocked() {
	if q.closed {
		return
	}
	q.closed = true
	q.queue, q.pending = nil, 0
	q.roomLocked()
	if q.closer != nil {
		_ = q.closer.Close()
	}
}
