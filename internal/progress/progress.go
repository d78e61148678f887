// Package progress shows a transfer's progress on a terminal line: a bar,
// bytes done of the total, the rate and the time left, redrawn at most ten
// times a second. Callers create a Bar only when stderr is a terminal;
// nothing here probes the terminal.
//
// The line is drawn by github.com/schollz/progressbar/v3; this package
// gives it the API the commands need (a total that grows as downloads
// start, a note such as a file count, lines printed above the bar) and
// the nimbus look (label first, binary units, a violet bar when colour is
// on). The bubbles progress component was not used: it imports Bubble
// Tea, whose key tables every nimbus command would build at start-up.
package progress

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// redrawEvery bounds how often the line is redrawn.
const redrawEvery = 100 * time.Millisecond

// Bar is one progress line. Its methods are safe for concurrent use.
type Bar struct {
	w     *lineWriter
	label string
	width int
	color bool

	mu        sync.Mutex
	pb        *progressbar.ProgressBar // nil until there is a total
	note      string
	noteShown string    // the note pb was last given
	lastDraw  time.Time // of the last draw; zero draws at the next update
	total     int64     // of the current segment (see AddTotal)
	done      int64     // bytes counted in the current segment
	shown     int64     // bytes handed to pb: done clamped to total
	finished  bool
}

// clearLine is what the library writes to erase its line in ANSI mode.
const clearLine = "\x1b[2K\r"

// lineWriter passes the library's output on and remembers whether a bar
// is on the line, so that Clear erases only a drawn bar and Finish can
// draw the final state again after a Clear.
type lineWriter struct {
	w       io.Writer
	visible bool
}

func (l *lineWriter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		l.visible = string(p) != clearLine
	}
	return l.w.Write(p)
}

// Options configure a Bar.
type Options struct {
	// Color draws the filled part of the bar in colour.
	Color bool
	// Width of the bar itself, in cells; 0 means 24. The library narrows
	// it when the line would not fit the terminal.
	Width int
}

// New returns a bar labelled label that writes to w (a terminal). Nothing
// is drawn until there is a total.
func New(w io.Writer, label string, o Options) *Bar {
	width := o.Width
	if width <= 0 {
		width = 24
	}
	return &Bar{w: &lineWriter{w: w}, label: label, width: width, color: o.Color}
}

// AddTotal grows the total: several downloads can start one after another.
// Once everything counted so far is done the bar shows 100%; a total added
// after that starts a new segment (the same line, counting from zero) so
// that its rate and time left are those of the new work.
func (b *Bar) AddTotal(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n <= 0 || b.finished {
		return
	}
	if b.pb != nil && b.pb.IsFinished() {
		b.pb, b.total, b.done, b.shown = nil, 0, 0, 0
	}
	b.total += n
	if b.pb == nil {
		b.noteShown = b.note
		b.pb = progressbar.NewOptions64(b.total, b.options()...)
		_ = b.pb.RenderBlank() // the bar appears before the first byte
		b.lastDraw = time.Now()
		return
	}
	b.pb.ChangeMax64(b.total) // redraws
}

func (b *Bar) options() []progressbar.Option {
	theme := progressbar.Theme{Saucer: "█", SaucerPadding: "░"}
	if b.color {
		theme.Saucer = "[magenta]█[reset]"
	}
	return []progressbar.Option{
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(b.description()),
		progressbar.OptionSetTheme(theme),
		progressbar.OptionEnableColorCodes(b.color),
		progressbar.OptionSetWidth(b.width),
		progressbar.OptionShowBytes(true),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionShowCount(), // draw on every Add64: drawLocked throttles
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionUseANSICodes(true), // erase with \x1b[2K, not spaces
	}
}

func (b *Bar) description() string {
	d := b.label + " "
	if b.note != "" {
		d += b.note + " "
	}
	return d
}

// drawLocked hands pb the bytes counted since the last draw (never beyond
// the total, which the library refuses to count past) and the note, at
// most every redrawEvery unless force; reaching the total always draws.
// The throttle is here rather than the library's so that a final partial
// state can be drawn.
func (b *Bar) drawLocked(force bool) {
	if b.pb == nil {
		return
	}
	target := min(b.done, b.total)
	now := time.Now()
	if !force && target < b.total && !b.lastDraw.IsZero() && now.Sub(b.lastDraw) < redrawEvery {
		return
	}
	b.lastDraw = now
	if b.noteShown != b.note {
		b.noteShown = b.note
		// Options are setters on the bar; this one changes the text
		// without the extra draw Describe makes.
		progressbar.OptionSetDescription(b.description())(b.pb)
	}
	n := target - b.shown
	b.shown = target
	_ = b.pb.Add64(n) // errors are the writer's: a progress line is not worth failing for
}

// SetNote sets a short text shown after the label, such as a count of
// files ("3/120 files").
func (b *Bar) SetNote(note string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.note = note
	b.drawLocked(false)
}

// Add records n more bytes done.
func (b *Bar) Add(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.done += n
	b.drawLocked(false)
}

// Clear erases the line so other output can be printed; the next update
// draws it again.
func (b *Bar) Clear() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pb != nil && b.w.visible {
		_ = b.pb.Clear()
		b.lastDraw = time.Time{}
	}
}

// Finish draws the final state and ends the line. A bar that did not
// reach its total shows how far the work got.
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	if b.pb == nil {
		b.finished = true
		return
	}
	if b.done >= b.total {
		b.drawLocked(true)
		_ = b.pb.Finish()
	} else {
		b.drawLocked(true)
		_ = b.pb.Exit()
	}
	b.finished = true
	last := b.pb.String()
	if last == "" {
		return
	}
	if !b.w.visible { // cleared since: draw the last state again
		io.WriteString(b.w, last)
	}
	io.WriteString(b.w, "\n")
}

// Line returns the text last drawn (without the carriage return).
func (b *Bar) Line() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pb == nil {
		return ""
	}
	s := b.pb.String()
	for len(s) > 0 && s[0] == '\r' {
		s = s[1:]
	}
	return s
}

// Bytes formats n with binary units: 512 B, 1.5 KiB, 57.3 MiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// Duration formats a time left: 45s, 3m05s, 1h02m.
func Duration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}
