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
	// errInputEnded: endProcessInput was called, or the process exited.
	errInputEnded = errors.New("input ended")
	// errInputFull: maxPendingInput is waiting for the process already.
	errInputFull = errors.New("input full")
)

// inputQueue feeds a process's standard input from one goroutine, so that
// writeProcessInput answers at once, chunks arrive in order, and
// endProcessInput closes the pipe only after what was written before it.
type inputQueue struct {
	mu      sync.Mutex
	w       io.WriteCloser
	queue   []string
	pending int  // bytes queued or being written, not yet in the pipe
	pumping bool // a goroutine is writing the queue
	ended   bool // endProcessInput asked to close once the queue drained
	closed  bool // w is closed
}

func newInputQueue(w io.WriteCloser) *inputQueue { return &inputQueue{w: w} }

// write queues data for the process. force skips the bound (the stdin of
// startProcess, already bounded by the request size).
func (q *inputQueue) write(data string, force bool) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ended || q.closed {
		return errInputEnded
	}
	if !force && q.pending+len(data) > maxPendingInput {
		return errInputFull
	}
	if data == "" {
		return nil
	}
	q.queue = append(q.queue, data)
	q.pending += len(data)
	if !q.pumping {
		q.pumping = true
		go q.pump()
	}
	return nil
}

func (q *inputQueue) pump() {
	for {
		q.mu.Lock()
		if len(q.queue) == 0 || q.closed {
			q.pumping = false
			if q.ended {
				q.closeLocked()
			}
			q.mu.Unlock()
			return
		}
		s := q.queue[0]
		q.queue[0] = ""
		q.queue = q.queue[1:]
		q.mu.Unlock()
		_, err := io.WriteString(q.w, s)
		if err == nil {
			q.mu.Lock()
			if !q.closed { // else close reset the count
				q.pending -= len(s)
			}
			q.mu.Unlock()
		} else {
			// The reader is gone (EPIPE) or close ran: what is queued
			// can never be read.
			q.mu.Lock()
			q.queue, q.pending = nil, 0
			q.closeLocked()
			q.pumping = false
			q.mu.Unlock()
			return
		}
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

// close drops what is queued and closes the pipe now, which also ends a
// write blocked in the pump: the process has exited.
func (q *inputQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.queue, q.pending = nil, 0
	q.closeLocked()
}

func (q *inputQueue) closeLocked() {
	if !q.closed {
		q.closed = true
		_ = q.w.Close()
	}
}
