package localsandbox

import (
	"errors"
	"io"
	"testing"
)

// The process's input and the terminal's keystrokes share inputQueue;
// these tests pin down where their semantics differ, with a pipe that
// nobody reads standing for a process or a program in raw mode that does
// not read.

// closedStop is a stop channel that is already closed: writeWait with it
// reports at once whether it would have had to wait.
func closedStop() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// A full queue refuses a process's write (writing nothing) but makes a
// terminal's wait; a chunk larger than the limit is refused to a process
// (whose request is refused with EAGAIN) but taken from a terminal when
// nothing waits, or its socket would wait for ever; forced input (the
// stdin of startProcess) skips the limit.
func TestInputQueueLimit(t *testing.T) {
	_, pw := io.Pipe()
	q := newInputQueue(pw, pw, 4)
	defer q.close()
	if err := q.write("abcde", false); !errors.Is(err, errInputFull) {
		t.Fatalf("write beyond the limit into an empty queue: %v", err)
	}
	if err := q.write("abcd", false); err != nil {
		t.Fatalf("write up to the limit: %v", err)
	}
	if err := q.write("e", false); !errors.Is(err, errInputFull) {
		t.Fatalf("write into a full queue: %v", err)
	}
	if err := q.write("efgh", true); err != nil {
		t.Fatalf("forced write: %v", err)
	}
	if err := q.writeWait("i", closedStop()); !errors.Is(err, errInputStopped) {
		t.Fatalf("writeWait into a full queue did not wait: %v", err)
	}

	_, pw2 := io.Pipe()
	q2 := newInputQueue(pw2, pw2, 4)
	defer q2.close()
	if err := q2.writeWait("abcdefgh", closedStop()); err != nil {
		t.Fatalf("writeWait of a chunk beyond the limit into an empty queue: %v", err)
	}
}

// A writer waiting for room goes on, in order, as soon as the reader takes
// what waits, and lets go when the queue closes.
func TestInputQueueWaitsForRoom(t *testing.T) {
	pr, pw := io.Pipe()
	q := newInputQueue(pw, pw, 4)
	if err := q.writeWait("abcd", nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- q.writeWait("ef", nil) }()
	buf := make([]byte, 6)
	if _, err := io.ReadFull(pr, buf); err != nil || string(buf) != "abcdef" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("writeWait after room was made: %v", err)
	}

	// Full again, nobody reads: closing the queue (the terminal ends)
	// releases the writer waiting for room.
	if err := q.writeWait("ghij", nil); err != nil {
		t.Fatal(err)
	}
	go func() { done <- q.writeWait("k", nil) }()
	q.close()
	if err := <-done; !errors.Is(err, errInputEnded) {
		t.Fatalf("writeWait when the queue closed: %v", err)
	}
}

// Closing drops what is queued. With a closer (a process's stdin) the
// reader sees the end at once, also of a write in progress; without one
// (the terminal, which closes its PTY itself) the writer stays open.
func TestInputQueueClose(t *testing.T) {
	pr, pw := io.Pipe()
	q := newInputQueue(pw, pw, 1<<10)
	for _, s := range []string{"abcd", "efgh"} {
		if err := q.write(s, false); err != nil {
			t.Fatal(err)
		}
	}
	q.close()
	if b, err := io.ReadAll(pr); err != nil || len(b) != 0 {
		t.Fatalf("after close the reader got %q, %v", b, err)
	}
	if err := q.write("x", false); !errors.Is(err, errInputEnded) {
		t.Fatalf("write after close: %v", err)
	}
	if q.end() {
		t.Fatal("end after close reported true")
	}

	pr2, pw2 := io.Pipe()
	q2 := newInputQueue(pw2, nil, 1<<10)
	q2.close()
	go func() { _, _ = io.WriteString(pw2, "still open") }()
	buf := make([]byte, 10)
	if _, err := io.ReadFull(pr2, buf); err != nil || string(buf) != "still open" {
		t.Fatalf("the writer of a queue without closer: %q, %v", buf, err)
	}
}

// end closes the input after what was queued before it, and refuses
// later input.
func TestInputQueueEnd(t *testing.T) {
	pr, pw := io.Pipe()
	q := newInputQueue(pw, pw, 1<<10)
	for _, s := range []string{"abcd", "efgh"} {
		if err := q.write(s, false); err != nil {
			t.Fatal(err)
		}
	}
	if !q.end() {
		t.Fatal("end reported false")
	}
	if err := q.write("x", false); !errors.Is(err, errInputEnded) {
		t.Fatalf("write after end: %v", err)
	}
	if err := q.writeWait("x", nil); !errors.Is(err, errInputEnded) {
		t.Fatalf("writeWait after end: %v", err)
	}
	if b, err := io.ReadAll(pr); err != nil || string(b) != "abcdefgh" {
		t.Fatalf("the reader got %q, %v", b, err)
	}
}
