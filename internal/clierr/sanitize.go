package clierr

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// TerminalText returns s without the characters that a terminal
// interprets: C0 and C1 controls (ESC starts escape sequences that can
// recolour, move the cursor, retitle the window or hide text; CR
// overwrites a line) and Unicode format characters such as bidirectional
// overrides. Line breaks and tabs stay. Error messages often quote what a
// server sent, so they pass through this before reaching a terminal.
func TerminalText(s string) string {
	clean := true
	for _, r := range s {
		if unsafeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if !unsafeRune(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	if r == '\n' || r == '\t' {
		return false
	}
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}

// Printable returns s as it may be shown on a terminal inside a message:
// unchanged when every character is safely printable, otherwise as a Go
// string literal that writes each character that is not as an escape
// ("a\x1b]0;x\a\nb", "a\u00a0b"; strconv.Unquote gives s back). Use it
// for text a user, a token or a sandbox chose (a claim, a file name): unlike
// TerminalText, which drops what a terminal would interpret, it keeps the
// text recoverable and makes its oddities visible.
//
// Safely printable means strconv.IsPrint (letters, marks, numbers,
// punctuation, symbols and the ASCII space) and none of the characters
// below. So quoted are: C0 and C1 controls, tab and newline (an ESC drives
// the terminal: retitles it, writes the clipboard with OSC 52, clears the
// screen; a newline fakes a line of output), format characters such as
// bidi overrides and zero-width spaces (they reorder or hide text),
// U+2028 and U+2029 (line breaks to some terminals and viewers), every
// space but U+0020 (a non-breaking or ideographic space passes for a plain
// one), private-use and unassigned code points, invalid UTF-8 and U+FFFD
// (which is what invalid bytes decode to, so a literal one would hide
// them), and letters that render as blanks (Hangul fillers, the Braille
// blank).
func Printable(s string) string {
	for _, r := range s {
		if !printableRune(r) {
			return quote(s)
		}
	}
	return s
}

// quote is strconv.Quote escaping by printableRune rather than
// strconv.IsPrint, so that the characters Printable quotes for are also
// the ones written as escapes (strconv.Quote leaves U+FFFD and the blank
// letters as they are).
func quote(s string) string {
	b := make([]byte, 0, len(s)+8)
	b = append(b, '"')
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, `\x`...)
			b = append(b, "0123456789abcdef"[s[i]>>4], "0123456789abcdef"[s[i]&0xf])
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case printableRune(r):
			b = append(b, s[i:i+n]...)
		default:
			q := strconv.QuoteRuneToASCII(r)
			b = append(b, q[1:len(q)-1]...)
		}
		i += n
	}
	return string(append(b, '"'))
}

func printableRune(r rune) bool {
	switch r {
	case utf8.RuneError, '\u115f', '\u1160', '\u2800', '\u3164', '\uffa0':
		return false
	}
	return strconv.IsPrint(r)
}
