package sandboxcli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/bubbles/progress"
	"github.com/muesli/termenv"
	"golang.org/x/term"

	"github.com/nimbus-sh/nimbus/internal/iostreams"
	"github.com/nimbus-sh/nimbus/internal/style"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

// progressInterval is how often the bar is redrawn.
const progressInterval = 100 * time.Millisecond

// Progress renders transfer progress on stderr: a bar with files, bytes,
// rate and ETA, redrawn in place on a terminal, and the failures and
// skipped entries as lines above it as they are found. It implements
// transfer.Observer. Without a terminal (or when quiet) it draws no bar;
// failures are still printed, since they are not progress.
type Progress struct {
	w      io.Writer
	st     *style.Styles
	bar    *progress.Model
	width  int
	label  string
	upload bool

	mu        sync.Mutex // serialises writes to w
	files     atomic.Int64
	bytes     atomic.Int64
	doneFiles atomic.Int64
	doneBytes atomic.Int64
	start     time.Time
	drawn     bool

	stop chan struct{}
	wg   sync.WaitGroup
}

// NewProgress starts a progress display on ios's stderr. label names the
// direction ("↑" or "↓" and a word). The bar is drawn only when stderr is
// a terminal and quiet is false; Close must be called in every case.
func NewProgress(ios *iostreams.IOStreams, label string, quiet, silentFailures bool) *Progress {
	p := &Progress{w: ios.ErrOut, st: ios.Styles(), label: label, start: time.Now(), stop: make(chan struct{})}
	if silentFailures {
		p.w = io.Discard
	}
	if ios.IsStderrTTY() && !quiet && !silentFailures {
		p.width = 80
		if f, ok := ios.ErrOut.(*os.File); ok {
			if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 20 {
				p.width = w
			}
		}
		profile := termenv.Ascii
		if ios.ColorEnabled() {
			profile = termenv.ANSI
		}
		bar := progress.New(progress.WithSolidFill("2"), progress.WithoutPercentage(), progress.WithColorProfile(profile), progress.WithFillCharacters('━', '─'))
		p.bar = &bar
		p.wg.Add(1)
		go p.loop()
	}
	return p
}

func (p *Progress) loop() {
	defer p.wg.Done()
	t := time.NewTicker(progressInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.draw()
			p.mu.Unlock()
		}
	}
}

// Close stops redrawing and clears the bar.
func (p *Progress) Close() {
	if p.bar == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
	p.mu.Lock()
	p.clear()
	p.mu.Unlock()
}

// clear erases the bar line; the caller holds mu.
func (p *Progress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[2K")
		p.drawn = false
	}
}

// draw renders the bar line; the caller holds mu.
func (p *Progress) draw() {
	if p.bar == nil {
		return
	}
	files, bytes := p.files.Load(), p.bytes.Load()
	df, db := p.doneFiles.Load(), min(p.doneBytes.Load(), max(bytes, 0))
	elapsed := time.Since(p.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(db) / elapsed
	}
	frac := 0.0
	switch {
	case bytes > 0:
		frac = float64(db) / float64(bytes)
	case files > 0:
		frac = float64(df) / float64(files)
	}
	eta := "--"
	if rate > 0 && bytes > db {
		eta = fmtDuration(time.Duration(float64(bytes-db) / rate * float64(time.Second)))
	} else if bytes > 0 && db >= bytes {
		eta = "0s"
	}
	text := fmt.Sprintf(" %d/%d files  %s/%s  %s/s  ETA %s", df, files, transfer.HumanBytes(db), transfer.HumanBytes(bytes), transfer.HumanBytes(int64(rate)), eta)
	barWidth := p.width - len([]rune(p.label)) - len(text) - 3
	line := p.label + " "
	if barWidth >= 10 {
		p.bar.Width = min(barWidth, 40)
		line += p.bar.ViewAs(frac)
	}
	line += p.st.Muted(text)
	fmt.Fprint(p.w, "\r\x1b[2K"+line)
	p.drawn = true
}

// Println prints a line above the bar.
func (p *Progress) Println(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintln(p.w, s)
}

// Plan adds a walk's totals.
func (p *Progress) Plan(files int, bytes int64) {
	p.files.Add(int64(files))
	p.bytes.Add(bytes)
}

// Transferred counts bytes.
func (p *Progress) Transferred(n int64) { p.doneBytes.Add(n) }

// Event counts finished files and reports entries that could not be
// copied.
func (p *Progress) Event(e transfer.Event) {
	switch e.Kind {
	case transfer.Copied:
		if e.Type == transfer.TypeFile {
			p.doneFiles.Add(1)
		}
	case transfer.Skipped:
		if e.Reason != "unchanged" {
			src := e.Local
			if !e.Upload {
				src = e.Remote
			}
			p.Println(fmt.Sprintf("%s skipped %s: %s", p.st.WarningIcon(), src, e.Reason))
		}
	}
}

// Failed prints the failure as it is found.
func (p *Progress) Failed(f transfer.Failure) {
	p.Println(fmt.Sprintf("%s %s", p.st.FailureIcon(), f.String()))
}

func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()+0.5))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// FailureList renders every failure of a copy, one per line, for the end
// of a command.
func FailureList(st *style.Styles, fs []transfer.Failure) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d path(s) failed:\n", st.FailureIcon(), len(fs))
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s\n", f.String())
	}
	return b.String()
}
