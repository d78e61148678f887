// Package progress shows a transfer's progress on a terminal line: a bar,
// bytes done of the total, the rate and the time left, redrawn at most ten
// times a second. Callers create a Bar only when stderr is a terminal;
// nothing here probes whether it is one.
//
// The line is drawn here rather than by a library because every nimbus
// command pays for whatever is linked (issue 15): the progress bar library
// used before (github.com/schollz/progressbar with colorstring and uniseg)
// built colour and option tables at init in every command, transfers or
// not, and added 200 KB to the release binary, for one line of text. The
// line looks as it did: label and note, percentage, a bar of Options.Width
// cells, bytes done of the total and the rate in binary units, and
// [elapsed:left]. The bubbles progress component was not used either: it
// imports Bubble Tea, whose key tables every command would build at
// start-up.
package progress

import (
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

const (
	// redrawEvery bounds how often the line is redrawn.
	redrawEvery = 100 * time.Millisecond
	// rateWindow is the shortest span one rate sample covers; the rate
	// shown is the mean of the last rateSamples samples, so that it
	// follows the transfer without jumping at every read.
	rateWindow  = 500 * time.Millisecond
	rateSamples = 10
	// maxLeft is the longest time left shown: beyond it the estimate comes
	// from a stalled rate and says nothing, so "?" is shown instead.
	maxLeft = 100 * 24 * time.Hour
	// unknown is shown for a time left that cannot be estimated.
	unknown = "?"
)

// Escape sequences: clearLine erases the line and returns to its start
// (Clear), eraseRest erases what a longer earlier line left after a draw,
// violet and reset colour the filled part of the bar.
const (
	clearLine = "\x1b[2K\r"
	eraseRest = "\x1b[0K"
	violet    = "\x1b[35m"
	reset     = "\x1b[0m"
)

// Bar is one progress line. Its methods are safe for concurrent use.
type Bar struct {
	w     io.Writer
	label string
	width int
	color bool

	mu       sync.Mutex
	note     string
	total    int64     // of the current segment (see AddTotal); 0 until there is one
	done     int64     // bytes counted in the current segment
	start    time.Time // of the current segment
	lastDraw time.Time // of the last timed draw; zero draws at the next update
	line     string    // last drawn: "\r", the text, eraseRest
	visible  bool      // line is on the terminal (drawn, not cleared since)
	finished bool

	// complete: the segment reached its total. Its line is final: the
	// rate over the whole segment (endRate) and no time left; only a new
	// note changes it. noteDrawn is the note in line.
	complete  bool
	endRate   float64
	noteDrawn string

	// Rate samples: bytes per second over windows of at least rateWindow.
	winStart time.Time
	winBytes int64
	rates    [rateSamples]float64
	nRates   int
}

// Options configure a Bar.
type Options struct {
	// Color draws the filled part of the bar in colour.
	Color bool
	// Width of the bar itself, in cells; 0 means 24. It is narrowed when
	// the line would not fit the terminal.
	Width int
}

// New returns a bar labelled label that writes to w (a terminal). Nothing
// is drawn until there is a total.
func New(w io.Writer, label string, o Options) *Bar {
	width := o.Width
	if width <= 0 {
		width = 24
	}
	return &Bar{w: w, label: label, width: width, color: o.Color}
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
	if b.complete {
		b.total, b.done, b.complete = 0, 0, false
	}
	if b.total == 0 {
		now := time.Now()
		b.start, b.winStart, b.winBytes, b.nRates = now, now, 0, 0
	}
	b.total = addSat(b.total, n)
	b.drawLocked(true) // the bar appears before the first byte
}

// addSat adds n ≥ 0 to a ≥ 0 without wrapping round.
func addSat(a, n int64) int64 {
	if n > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + n
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

// Add records n more bytes done; a count never goes down, so n < 0 counts
// as 0 (Add(0) only redraws if due).
func (b *Bar) Add(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.done = addSat(b.done, max(n, 0))
	b.drawLocked(false)
}

// drawLocked draws the line at most every redrawEvery unless force;
// reaching the total always draws, and so does the first update after a
// Clear. The bytes shown are those done, never beyond the total (a retry
// may count bytes twice).
func (b *Bar) drawLocked(force bool) {
	if b.total == 0 {
		return
	}
	if b.complete {
		if !b.visible || b.note != b.noteDrawn {
			b.writeLocked(b.format(b.total, b.endRate, 0))
		}
		return
	}
	shown := min(b.done, b.total)
	now := time.Now()
	if !force && shown < b.total && !b.lastDraw.IsZero() && now.Sub(b.lastDraw) < redrawEvery {
		return
	}
	b.lastDraw = now
	elapsed := now.Sub(b.start)
	rate := b.rateLocked(now, shown)
	if shown == b.total {
		// The rate of the whole segment: a last sample of a few
		// milliseconds says little.
		b.complete, b.endRate = true, perSecond(shown, elapsed)
		rate = b.endRate
	}
	b.writeLocked(b.format(shown, rate, elapsed))
}

// rateLocked takes a sample if the window is over and returns the mean of
// the samples, or the mean rate of the segment before the first sample.
func (b *Bar) rateLocked(now time.Time, shown int64) float64 {
	if d := now.Sub(b.winStart); d > rateWindow {
		copy(b.rates[:], b.rates[1:])
		b.rates[rateSamples-1] = perSecond(shown-b.winBytes, d)
		b.nRates = min(b.nRates+1, rateSamples)
		b.winStart, b.winBytes = now, shown
	}
	if b.nRates == 0 {
		return perSecond(shown, now.Sub(b.start))
	}
	sum := 0.0
	for _, r := range b.rates[rateSamples-b.nRates:] {
		sum += r
	}
	return sum / float64(b.nRates)
}

// perSecond is n bytes over d as bytes per second: 0 when either is not
// positive, so that a rate is never negative, infinite or NaN.
func perSecond(n int64, d time.Duration) float64 {
	if n <= 0 || d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func (b *Bar) writeLocked(line string) {
	b.line, b.visible, b.noteDrawn = line, true, b.note
	_, _ = io.WriteString(b.w, line) // a progress line is not worth failing for
}

// format renders the line for shown bytes of the total at rate bytes per
// second after elapsed: "\rLabel note  40% ████░░░░░░ (4.0/10 MiB,
// 1.2 MiB/s) [3s:5s]", then eraseRest. At 100% there is no time.
func (b *Bar) format(shown int64, rate float64, elapsed time.Duration) string {
	pct := percent(shown, b.total)
	head := b.label + " "
	if b.note != "" {
		head += b.note + " "
	}
	head += fmt.Sprintf("%4d%% ", pct)

	cur, curUnit := humanize(float64(shown))
	all, allUnit := humanize(float64(b.total))
	tail := " (" + cur
	if curUnit != allUnit {
		tail += curUnit
	}
	tail += "/" + all + allUnit
	if rate > 0 && !math.IsInf(rate, 0) {
		r, unit := humanize(rate)
		tail += ", " + r + unit + "/s"
	}
	tail += ")"
	if pct < 100 {
		tail += " [" + elapsed.Truncate(time.Second).String() + ":" + timeLeft(b.total-shown, rate) + "]"
	}

	width := b.width
	if cols := termWidth(b.w); cols > 0 {
		// Narrow the bar rather than let the line wrap: a wrapped line is
		// not erased by the next draw, and every redraw would leave one.
		width = max(0, min(width, cols-utf8.RuneCountInString(head)-utf8.RuneCountInString(tail)))
	}
	filled := int(int64(pct) * int64(width) / 100)

	var s strings.Builder
	s.WriteString("\r")
	s.WriteString(head)
	if filled > 0 {
		if b.color {
			s.WriteString(violet)
		}
		s.WriteString(strings.Repeat("█", filled))
		if b.color {
			s.WriteString(reset)
		}
	}
	s.WriteString(strings.Repeat("░", width-filled))
	s.WriteString(tail)
	s.WriteString(eraseRest)
	return s.String()
}

// percent is 100·shown/total rounded down, computed without overflow or
// floating point so that only a finished segment shows 100%; shown is in
// [0, total].
func percent(shown, total int64) int {
	hi, lo := bits.Mul64(uint64(shown), 100)
	q, _ := bits.Div64(hi, lo, uint64(total)) // hi < total since shown ≤ total
	return int(q)
}

// timeLeft estimates how long the remaining bytes take at rate, in whole
// seconds as Go writes durations ("1m5s"), or "?" when there is no
// estimate: no bytes counted yet, a stalled transfer, or one beyond maxLeft.
func timeLeft(remaining int64, rate float64) string {
	if remaining <= 0 {
		return "0s"
	}
	if !(rate > 0) || math.IsInf(rate, 0) {
		return unknown
	}
	secs := float64(remaining) / rate
	if !(secs < maxLeft.Seconds()) {
		return unknown
	}
	return (time.Duration(secs) * time.Second).String()
}

// iecUnits are the units of humanize, each with the space before it.
var iecUnits = [...]string{" B", " KiB", " MiB", " GiB", " TiB", " PiB", " EiB"}

// humanize writes n bytes as the bar did with progressbar's IEC units: a
// padded integer under 10 B (" 0", " B"), one decimal under 10 of a unit
// ("4.0", " MiB"), whole numbers above ("10", " MiB"). A value that rounds
// to 1024 of a unit is 1.0 of the next one.
func humanize(n float64) (string, string) {
	if !(n > 0) { // also NaN
		n = 0
	}
	if n < 10 {
		return fmt.Sprintf("%2.0f", n), iecUnits[0]
	}
	e := 0
	for n >= 1024 && e < len(iecUnits)-1 {
		n /= 1024
		e++
	}
	n = math.Floor(n*10+0.5) / 10
	if n >= 1024 && e < len(iecUnits)-1 {
		n /= 1024
		e++
	}
	if n < 10 {
		return fmt.Sprintf("%.1f", n), iecUnits[e]
	}
	return fmt.Sprintf("%.0f", n), iecUnits[e]
}

// termWidth is the width of the terminal w writes to, or 0 when w is not
// a terminal file (a buffer in tests, a wrapped writer).
func termWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok {
		return 0
	}
	cols, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return cols
}

// Clear erases the line so other output can be printed; the next update
// draws it again.
func (b *Bar) Clear() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.visible {
		_, _ = io.WriteString(b.w, clearLine)
		b.visible = false
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
	b.finished = true
	if b.total == 0 {
		return
	}
	b.drawLocked(true)
	_, _ = io.WriteString(b.w, "\n")
}

// Line returns the text last drawn (without the carriage return).
func (b *Bar) Line() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimPrefix(b.line, "\r")
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
