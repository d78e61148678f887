package runtimesync

// EventKind says what an Event reports.
type EventKind string

// Events, roughly in the order a sync emits them. Download and upload
// progress events can arrive from several goroutines at once.
const (
	// EventResolved: Runtime resolved to Package@Version.
	EventResolved EventKind = "resolved"
	// EventDownloadStart: a tarball download of Total bytes (-1: unknown) began.
	EventDownloadStart EventKind = "download-start"
	// EventDownloadBytes: Bytes more were downloaded.
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
	// EventPublished: the catalog with digest Message is published.
	EventPublished EventKind = "published"
	// EventWarning: something worth telling the user; Message says what.
	EventWarning EventKind = "warning"
)

// Event is one progress report.
type Event struct {
	Kind    EventKind
	Runtime string
	Package string
	Version string
	Key     string
	Bytes   int64
	Total   int64
	Objects int
	Cached  bool
	Message string
}

// Observer receives progress; implementations must be safe for concurrent
// use.
type Observer interface {
	Observe(Event)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(Event)

// Observe calls f.
func (f ObserverFunc) Observe(e Event) { f(e) }

type nopObserver struct{}

func (nopObserver) Observe(Event) {}
