package runtimecli

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/nimbus-sh/nimbus/internal/iostreams"
	"github.com/nimbus-sh/nimbus/internal/progress"
	"github.com/nimbus-sh/nimbus/internal/style"
	"github.com/nimbus-sh/nimbus/pkg/runtimesync"
)

// View shows a sync's progress on stderr when it is a terminal: a line per
// verified package, a bar for the downloads and one for the uploads (none
// on a dumb terminal, which would print the bar's erase sequences as
// text). When stderr is not a terminal, or with --json, it prints nothing.
type View struct {
	w      io.Writer
	st     *style.Styles
	color  bool
	active bool
	bars   bool

	mu       sync.Mutex
	download *progress.Bar
	upload   *progress.Bar
}

// NewView returns a view on ios's stderr. A silent one (for --json, whose
// stderr carries JSON objects only, terminal or not) draws nothing; the
// result's JSON carries the warnings instead.
func NewView(ios *iostreams.IOStreams, silent bool) *View {
	return &View{w: ios.ErrOut, st: ios.Styles(), color: ios.ColorEnabled(), active: ios.IsStderrTTY() && !silent, bars: ios.CanRedrawStderr()}
}

// Active reports whether the view draws anything.
func (v *View) Active() bool { return v.active }

// Observe draws one event.
func (v *View) Observe(e runtimesync.Event) {
	if !v.active {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	switch e.Kind {
	case runtimesync.EventDownloadStart:
		if v.download == nil && v.bars {
			v.download = progress.New(v.w, "Downloading", progress.Options{Color: v.color})
		}
		if v.download != nil {
			v.download.AddTotal(e.Total)
		}
	case runtimesync.EventDownloadBytes:
		if v.download != nil {
			v.download.Add(e.Bytes)
		}
	case runtimesync.EventVerified:
		src := "downloaded"
		if e.Cached {
			src = "cached"
		}
		v.lineLocked(fmt.Sprintf("%s %s verified %s", v.st.SuccessIcon(), v.st.Bold(e.Runtime), v.st.Muted(fmt.Sprintf("(%s@%s, %s)", e.Package, e.Version, src))))
	case runtimesync.EventUploadStart:
		v.finishLocked(&v.download)
		if v.bars {
			v.upload = progress.New(v.w, "Uploading  ", progress.Options{Color: v.color})
			v.upload.AddTotal(e.Total)
		}
	case runtimesync.EventUploadBytes:
		if v.upload != nil {
			v.upload.Add(e.Bytes)
		}
	case runtimesync.EventPublished:
		v.finishLocked(&v.download)
		v.finishLocked(&v.upload)
	case runtimesync.EventWarning:
		v.lineLocked(v.st.WarningIcon() + " " + e.Message)
	case runtimesync.EventWaiting:
		v.finishLocked(&v.upload)
		v.lineLocked(v.st.Muted(e.Message))
	}
}

// Close ends any bar still drawn (after a failure, say).
func (v *View) Close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.finishLocked(&v.download)
	v.finishLocked(&v.upload)
}

func (v *View) finishLocked(b **progress.Bar) {
	if *b != nil {
		(*b).Finish()
		*b = nil
	}
}

// lineLocked prints a line above whatever bar is being drawn.
func (v *View) lineLocked(s string) {
	for _, b := range []*progress.Bar{v.download, v.upload} {
		if b != nil {
			b.Clear()
		}
	}
	io.WriteString(v.w, strings.TrimRight(s, "\n")+"\n")
}
