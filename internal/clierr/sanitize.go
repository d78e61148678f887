package clierr

import (
	"strings"
	"unicode"
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
