// Package progress draws a transfer's progress on a terminal line: a bar,
// bytes done of the total, the rate and the time left, redrawn at most ten
// times a second. Callers create a Bar only when stderr is a terminal;
// nothing here probes the terminal.
//
// The bar is drawn here in a few lines rather than with the bubbles
// progress component: that package imports Bubble Tea, whose key tables
// are built at start-up by every nimbus command (90 KB, ~0.3 ms), for a
// bar that needs none of it.
package progress

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// redrawEvery bounds how often the line is redrawn.
const redrawEvery = 100 * time.Millisecond

// Bar is one progress line. Its methods are safe for concurrent use.
type Bar struct {
	w     io.Writer
	label string
	width int
	color bool
	now   func() time.Time

	mu       sync.Mutex
	note     string
	total    int64
	done     int64
	started  time.Time
	drawn    time.Time
	visible  bool
	finished bool
}

// Options configure a Bar.
type Options struct {
	// Color enables the gradient; off, the bar is plain block characters.
	Color bool
	// Width of the bar itself, in cells; 0 means 24.
	Width int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New returns a bar labelled label that writes to w (a terminal).
func New(w io.Writer, label string, o Options) *Bar {
	width := o.Width
	if width <= 0 {
		width = 24
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Bar{w: w, label: label, width: width, color: o.Color, now: now, started: now()}
}

// AddTotal grows the total (several downloads can start one after another).
func (b *Bar) AddTotal(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > 0 {
		b.total += n
	}
	b.drawLocked(false)
}

// SetNote sets a short text shown after the label, such as a count of
// files ("3/120 files").
func (b *Bar) SetNote(note string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.note = note
	b.drawLocked(false)
}

// Add records n more bytes done.
func (b *Bar) Add(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	b.drawLocked(false)
}

// Clear erases the line so other output can be printed; the next update
// draws it again.
func (b *Bar) Clear() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.visible {
		io.WriteString(b.w, "\r\x1b[2K")
		b.visible = false
		b.drawn = time.Time{}
	}
}

// Finish draws the final state and ends the line.
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.drawLocked(true)
	io.WriteString(b.w, "\n")
	b.finished, b.visible = true, false
}

// Line renders the bar's current text (without the carriage return).
func (b *Bar) Line() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lineLocked()
}

func (b *Bar) drawLocked(force bool) {
	if b.finished {
		return
	}
	t := b.now()
	if !force && !b.drawn.IsZero() && t.Sub(b.drawn) < redrawEvery {
		return
	}
	b.drawn = t
	b.visible = true
	io.WriteString(b.w, "\r\x1b[2K"+b.lineLocked())
}

func (b *Bar) lineLocked() string {
	done, total := b.done, b.total
	frac := 0.0
	if total > 0 {
		frac = min(float64(done)/float64(total), 1)
		done = min(done, total)
	}
	var s strings.Builder
	s.WriteString(b.label)
	s.WriteString(" ")
	if b.note != "" {
		s.WriteString(b.note + " ")
	}
	s.WriteString(bar(frac, b.width, b.color))
	fmt.Fprintf(&s, " %3.0f%% %s", frac*100, Bytes(done))
	if total > 0 {
		s.WriteString(" / " + Bytes(total))
	}
	elapsed := b.now().Sub(b.started)
	if elapsed >= time.Second && done > 0 {
		rate := float64(done) / elapsed.Seconds()
		s.WriteString("  " + Bytes(int64(rate)) + "/s")
		if total > done && rate > 0 {
			eta := time.Duration(float64(total-done) / rate * float64(time.Second))
			s.WriteString("  ETA " + Duration(eta))
		}
	}
	return s.String()
}

// Gradient ends of the filled part, as RGB: the violet to pink of the
// charm progress bars.
var gradientFrom, gradientTo = [3]float64{0x5A, 0x56, 0xE0}, [3]float64{0xEE, 0x6F, 0xF8}

// bar draws width cells, the first frac of them filled: '█' filled and '░'
// empty, the filled cells in a violet-to-pink gradient of xterm's 256
// colours when color is true.
func bar(frac float64, width int, color bool) string {
	filled := int(frac*float64(width) + 0.5)
	var s strings.Builder
	for i := 0; i < filled; i++ {
		if color {
			t := 0.0
			if width > 1 {
				t = float64(i) / float64(width-1)
			}
			s.WriteString("\x1b[38;5;" + strconv.Itoa(xterm256(gradientFrom, gradientTo, t)) + "m")
		}
		s.WriteString("█")
	}
	if color && filled > 0 {
		s.WriteString("\x1b[0m")
	}
	s.WriteString(strings.Repeat("░", width-filled))
	return s.String()
}

// xterm256 is the colour of xterm's 6×6×6 cube nearest to the point t of
// the way from a to b.
func xterm256(a, b [3]float64, t float64) int {
	idx := 16
	for i, mul := range [3]int{36, 6, 1} {
		v := a[i] + (b[i]-a[i])*t
		idx += mul * int(v/255*5+0.5)
	}
	return idx
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
