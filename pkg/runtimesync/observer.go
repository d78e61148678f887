package runtimesync

import "github.com/nimbus-sh/nimbus/internal/observe"

// EventKind says what an Event reports.
type EventKind string

// Events, roughly in the order a sync emits them. Download and upload
// progress events can arrive from several goroutines at once.
const (
	// EventResolved: Runtime resolved to Package@Version.
	EventResolved EventKind = "resolved"
	// EventDownloadStart: a tarball download of Total bytes (-1: unknown)
	// began; once per tarball, also when a broken download is restarted.
	EventDownloadStart EventKind = "download-start"
	// EventDownloadBytes: Bytes more were downloaded; a restarted download
	// reports only the bytes beyond those already reported.
	EventDownloadBytes EventKind = "download-bytes"
	// EventVerified: Runtime's tarball and blobs passed their checks;
	// Cached says the tarball came from the cache.
	EventVerified EventKind = "verified"
	// EventUploadStart: Objects objects of Total bytes will be uploaded.
	EventUploadStart EventKind = "upload-start"
	// EventUploadBytes: Bytes more were uploaded (a retry may resend).
	EventUploadBytes EventKind = "upload-bytes"
	// EventUploaded: the object Key of Bytes bytes is in the bucket.
	EventUploaded EventKind = "uploaded"
	// EventWaiting: another sync using the same cache directory is
	// publishing its catalog, and this one waits for it to finish before
	// re-reading the catalog; Message says so.
	EventWaiting EventKind = "waiting"
	// EventPublished: the catalog with digest Message is published.
	EventPublished EventKind = "published"
	// EventWarning: something worth telling the user; Message says what.
	EventWarning EventKind = "warning"
)

// Event is one progress report.
type Event struct {
	// Kind says what happened and which of the other fields are set (see
	// the EventKind constants).
	Kind EventKind
	// Runtime is the runtime's name (after aliasing: python is cpython)
	// for resolve, download and verify events.
	Runtime string
	// Package is the npm package name, such as
	// @nimbus-sh/runtime-cpython.
	Package string
	// Version is the npm package version (not the manifest version).
	Version string
	// Key is the bucket key of an upload event.
	Key string
	// Bytes is a byte count: the increment for progress events, the
	// object's size for EventUploaded.
	Bytes int64
	// Total is the expected size in bytes of a download (-1 when unknown)
	// or of all the uploads.
	Total int64
	// Objects is how many objects EventUploadStart announces.
	Objects int
	// Cached reports, on EventVerified, that the tarball came from the
	// cache rather than the registry.
	Cached bool
	// Message is the text of a warning or of EventWaiting, or the
	// catalog digest of EventPublished.
	Message string
}

// Observer receives progress; implementations must be safe for concurrent
// use. Observe is called on the sync's goroutines, so it must return
// quickly and not block.
type Observer = observe.Observer[Event]

// ObserverFunc adapts a function to Observer.
type ObserverFunc = observe.Func[Event]
