// Package table lays out the tables nimbus prints for people (apps,
// runtime list, ps, ports list): columns two spaces apart, as wide as
// their widest cell, the last column unpadded so that no line ends in
// spaces. A cell's width is what a terminal shows of it: ANSI escape
// sequences (colour) take no room and a character one column, so a
// coloured cell does not push its column out of line. Scripts read
// --json; this is for eyes only.
package table

import (
	"io"
	"strings"
	"unicode/utf8"
)

// Table is rows of cells, with a style for each whole line and lines of
// free text between them.
type Table struct {
	lines []line
}

type line struct {
	cells []string
	style func(string) string
	text  string // a free line when cells is nil
}

// Row adds a row; style, when not nil, is applied to the whole laid-out
// line (bold for a heading, red for a failure).
func (t *Table) Row(style func(string) string, cells ...string) {
	t.lines = append(t.lines, line{cells: cells, style: style})
}

// Line adds a line of free text after the rows so far: it takes no part
// in the columns (a note under a row).
func (t *Table) Line(text string) {
	t.lines = append(t.lines, line{text: text})
}

// WriteTo writes the table to w.
func (t *Table) WriteTo(w io.Writer) (int64, error) {
	var widths []int
	for _, l := range t.lines {
		for i, c := range l.cells {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], Width(c))
		}
	}
	var b strings.Builder
	for _, l := range t.lines {
		if l.cells == nil {
			b.WriteString(l.text + "\n")
			continue
		}
		var s strings.Builder
		for i, c := range l.cells {
			s.WriteString(c)
			if i < len(l.cells)-1 {
				s.WriteString(strings.Repeat(" ", widths[i]-Width(c)+2))
			}
		}
		text := strings.TrimRight(s.String(), " ")
		if l.style != nil {
			text = l.style(text)
		}
		b.WriteString(text + "\n")
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// Width is the number of columns s takes on a terminal: its characters,
// less the ANSI escape sequences (CSI such as colour, and OSC), which take
// none.
func Width(s string) int {
	n := 0
	for i := 0; i < len(s); {
		if s[i] == 0x1b && i+1 < len(s) {
			i = skipEscape(s, i)
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
	}
	return n
}

// skipEscape returns the index after the escape sequence at s[i] (ESC).
func skipEscape(s string, i int) int {
	switch s[i+1] {
	case '[': // CSI: parameters and intermediates, then a final byte @ to ~
		j := i + 2
		for j < len(s) && !(s[j] >= 0x40 && s[j] <= 0x7e) {
			j++
		}
		return min(j+1, len(s))
	case ']': // OSC: to BEL or ST (ESC \)
		for j := i + 2; j < len(s); j++ {
			if s[j] == 0x07 {
				return j + 1
			}
			if s[j] == 0x1b && j+1 < len(s) && s[j+1] == '\\' {
				return j + 2
			}
		}
		return len(s)
	}
	return i + 2
}
