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
	"unicode"
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
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n += runeWidth(r)
	}
	return n
}

// runeWidth is the columns a terminal gives r: none for a combining mark
// or a zero-width format character (the accent of a decomposed "é", a
// joiner), two for an East Asian wide or fullwidth character (CJK, Hangul,
// most emoji), else one.
func runeWidth(r rune) int {
	switch {
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		return 0
	case wide(r):
		return 2
	}
	return 1
}

// wide reports the East Asian Wide and Fullwidth blocks (UAX #11) a name
// is likely to hold; the rarer wide characters outside them count one.
func wide(r rune) bool {
	switch {
	case r < 0x1100:
		return false
	case r <= 0x115f, // Hangul Jamo initials
		r >= 0x2e80 && r <= 0x303e, // CJK radicals, punctuation
		r >= 0x3041 && r <= 0x33ff, // kana, CJK compatibility
		r >= 0x3400 && r <= 0x4dbf, // CJK extension A
		r >= 0x4e00 && r <= 0x9fff, // CJK unified ideographs
		r >= 0xa000 && r <= 0xa4cf, // Yi
		r >= 0xac00 && r <= 0xd7a3, // Hangul syllables
		r >= 0xf900 && r <= 0xfaff, // CJK compatibility ideographs
		r >= 0xfe30 && r <= 0xfe4f, // CJK compatibility forms
		r >= 0xff00 && r <= 0xff60, // fullwidth forms
		r >= 0xffe0 && r <= 0xffe6,
		r >= 0x1f300 && r <= 0x1f64f, // pictographs, emoticons
		r >= 0x1f900 && r <= 0x1f9ff, // supplemental pictographs
		r >= 0x20000 && r <= 0x3fffd: // CJK extensions B and beyond
		return true
	}
	return false
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
