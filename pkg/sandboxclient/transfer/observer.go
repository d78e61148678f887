package transfer

import (
	"io"
)

// EventKind says what happened to one entry.
type EventKind int

// Kinds of events.
const (
	// Copied: a file, directory or symlink arrived.
	Copied EventKind = iota
	// Skipped: an entry that cannot be copied (socket, device, fifo) or
	// that was unchanged (sync).
	Skipped
	// Deleted: sync --delete removed a destination entry.
	Deleted
	// Planned: a dry run would copy this entry.
	Planned
)

// Event reports one entry.
type Event struct {
	// Kind says whether the entry was copied, skipped, deleted or only
	// planned.
	Kind EventKind
	// Upload is true for local → sandbox.
	Upload bool
	// Local and Remote are the two paths (one may be empty for Deleted).
	Local, Remote string
	// Type is the entry type.
	Type EntryType
	// Bytes is the file size.
	Bytes int64
	// Reason explains a skip.
	Reason string
}

// Observer receives progress reports. Calls come from several goroutines at
// once, so implementations must be safe for concurrent use; they must also
// be fast, since Transferred is called every few tens of KiB.
type Observer interface {
	// Plan reports the work found by a walk: files and bytes to copy. It
	// is called once per tree, before the copying starts (again for each
	// round of a watch).
	Plan(files int, bytes int64)
	// Transferred reports n more bytes sent or received.
	Transferred(n int64)
	// Event reports one entry copied, skipped, deleted or planned.
	Event(Event)
	// Failed reports a failure as it is found; the rest goes on.
	Failed(Failure)
}

// ObserverFuncs adapts functions to Observer; nil fields ignore the call.
type ObserverFuncs struct {
	// OnPlan is called by Plan; nil ignores it.
	OnPlan func(files int, bytes int64)
	// OnTransferred is called by Transferred; nil ignores it.
	OnTransferred func(n int64)
	// OnEvent is called by Event; nil ignores it.
	OnEvent func(Event)
	// OnFailed is called by Failed; nil ignores it.
	OnFailed func(Failure)
}

// Plan calls OnPlan.
func (o ObserverFuncs) Plan(files int, bytes int64) {
	if o.OnPlan != nil {
		o.OnPlan(files, bytes)
	}
}

// Transferred calls OnTransferred.
func (o ObserverFuncs) Transferred(n int64) {
	if o.OnTransferred != nil {
		o.OnTransferred(n)
	}
}

// Event calls OnEvent.
func (o ObserverFuncs) Event(e Event) {
	if o.OnEvent != nil {
		o.OnEvent(e)
	}
}

// Failed calls OnFailed.
func (o ObserverFuncs) Failed(f Failure) {
	if o.OnFailed != nil {
		o.OnFailed(f)
	}
}

type nopObserver struct{}

func (nopObserver) Plan(int, int64)   {}
func (nopObserver) Transferred(int64) {}
func (nopObserver) Event(Event)       {}
func (nopObserver) Failed(Failure)    {}

// countingReaderAt reports the bytes read through it. A retried request
// reads its part again, so the count can exceed the size; observers clamp.
type countingReaderAt struct {
	r   io.ReaderAt
	obs Observer
}

func (c countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	if n > 0 {
		c.obs.Transferred(int64(n))
	}
	return n, err
}

// countingWriter reports the bytes written through it.
type countingWriter struct {
	w   io.Writer
	obs Observer
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if n > 0 {
		c.obs.Transferred(int64(n))
	}
	return n, err
}
