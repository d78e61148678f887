package sandboxcli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/iostreams"
	"github.com/nimbus-sh/nimbus/internal/progress"
	"github.com/nimbus-sh/nimbus/internal/style"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

// Progress shows a transfer on stderr and implements transfer.Observer: a
// progress.Bar (files done, bytes, rate, ETA) on a terminal, and the
// failures and skipped entries as lines above it as they are found.
// Without a terminal, on a dumb one (TERM=dumb: the bar is redrawn by
// erasing its line), or when quiet, there is no bar; failures are still
// printed, since they are not progress.
type Progress struct {
	w   io.Writer
	st  *style.Styles
	bar *progress.Bar
	// json, for --json: stderr carries JSON objects only, and a skipped
	// entry, which the summary at most counts, is a warning object.
	json    io.Writer
	jsonTTY bool

	mu sync.Mutex // orders lines and bar redraws
	// skipped holds the entries already reported as left out: a
	// `sync --watch` meets the same socket or fifo every round, and says
	// so once.
	skipped   map[string]bool
	files     atomic.Int64
	doneFiles atomic.Int64
}

// CodeTransferSkipped is the warning for an entry a copy leaves out
// because it cannot be copied (a socket, a fifo, a device).
const CodeTransferSkipped = "W_TRANSFER_SKIPPED"

// NewProgress starts a display on ios's stderr labelled label ("↑" or
// "↓"). silent (for --json) draws nothing for people: failures are then
// reported in the JSON, skipped entries as JSON warnings
// (W_TRANSFER_SKIPPED). Close must be called in every case.
func NewProgress(ios *iostreams.IOStreams, label string, quiet, silent bool) *Progress {
	p := &Progress{w: ios.ErrOut, st: ios.Styles()}
	if silent {
		p.w = io.Discard
		p.json, p.jsonTTY = ios.ErrOut, ios.IsStderrTTY()
	}
	if ios.CanRedrawStderr() && !quiet && !silent {
		p.bar = progress.New(ios.ErrOut, label, progress.Options{Color: ios.ColorEnabled()})
	}
	return p
}

// Close erases the bar.
func (p *Progress) Close() {
	if p.bar != nil {
		p.mu.Lock()
		p.bar.Clear()
		p.mu.Unlock()
	}
}

// Println prints a line above the bar.
func (p *Progress) Println(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Clear()
	}
	fmt.Fprintln(p.w, s)
}

// note redraws the file count; the caller holds mu.
func (p *Progress) note() {
	if p.bar != nil {
		p.bar.SetNote(fmt.Sprintf("%d/%d files", p.doneFiles.Load(), p.files.Load()))
	}
}

// Plan adds a walk's totals.
func (p *Progress) Plan(files int, bytes int64) {
	p.files.Add(int64(files))
	if p.bar != nil {
		p.mu.Lock()
		p.bar.AddTotal(bytes)
		p.note()
		p.mu.Unlock()
	}
}

// Transferred counts bytes.
func (p *Progress) Transferred(n int64) {
	if p.bar != nil {
		p.mu.Lock()
		p.bar.Add(n)
		p.mu.Unlock()
	}
}

// Event counts finished files and reports entries that cannot be copied.
func (p *Progress) Event(e transfer.Event) {
	switch e.Kind {
	case transfer.Copied:
		if e.Type == transfer.TypeFile {
			p.doneFiles.Add(1)
			if p.bar != nil {
				p.mu.Lock()
				p.note()
				p.mu.Unlock()
			}
		}
	case transfer.Skipped:
		if e.Reason != "unchanged" {
			src := e.Local
			if !e.Upload {
				src = e.Remote
			}
			if !p.firstSkip(src + "\x00" + e.Reason) {
				return
			}
			if p.json != nil {
				p.mu.Lock()
				clierr.RenderWarning(p.json, &clierr.Warning{Code: CodeTransferSkipped,
					Message: fmt.Sprintf("skipped %s: %s", src, e.Reason)}, clierr.RenderOptions{JSON: true, TTY: p.jsonTTY})
				p.mu.Unlock()
				return
			}
			p.Println(fmt.Sprintf("%s skipped %s: %s", p.st.WarningIcon(), clierr.Printable(src), DisplayText(e.Reason, src)))
		}
	}
}

// firstSkip reports whether the entry key is left out for the first time
// in this display's life.
func (p *Progress) firstSkip(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.skipped[key] {
		return false
	}
	if p.skipped == nil {
		p.skipped = make(map[string]bool)
	}
	p.skipped[key] = true
	return true
}

// Failed prints the failure as it is found.
func (p *Progress) Failed(f transfer.Failure) {
	p.Println(fmt.Sprintf("%s %s", p.st.FailureIcon(), FailureText(f)))
}

// FailureList renders every failure of a copy, one per line, for the end
// of a command.
func FailureList(st *style.Styles, fs []transfer.Failure) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d path(s) failed:\n", st.FailureIcon(), len(fs))
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s\n", FailureText(f))
	}
	return b.String()
}

// CopySummary renders what a copy did, for people.
func CopySummary(s *transfer.Summary) string {
	out := fmt.Sprintf("%d file(s), %s", s.Files, progress.Bytes(s.Bytes))
	if s.Symlinks > 0 {
		out += fmt.Sprintf(", %d symlink(s)", s.Symlinks)
	}
	if s.Excluded > 0 {
		out += fmt.Sprintf(", %d excluded", s.Excluded)
	}
	if s.Skipped > 0 {
		out += fmt.Sprintf(", %d skipped", s.Skipped)
	}
	if len(s.Failures) > 0 {
		out += fmt.Sprintf(", %d failed", len(s.Failures))
	}
	return out
}

// SyncSummary renders what a sync did, for people.
func SyncSummary(s *transfer.SyncSummary) string {
	out := fmt.Sprintf("%d copied (%s), %d unchanged, %d deleted", s.Copied, progress.Bytes(s.Bytes), s.Skipped, s.Deleted)
	if len(s.Failures) > 0 {
		out += fmt.Sprintf(", %d failed", len(s.Failures))
	}
	if s.DeletionsSkipped {
		out += "; " + transfer.DeletionsSkippedMessage
	}
	return out
}
