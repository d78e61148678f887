// Package style holds the few text styles nimbus uses for human output:
// bold and the 16 standard ANSI colours. When colour is off every style
// returns its input unchanged, so callers never branch on colour
// themselves.
//
// The styles are written as SGR escape sequences directly, the same bytes
// lipgloss produced with its 16-colour profile. lipgloss, and the Unicode
// width tables and escape-sequence parser it links, built tables at
// start-up in every nimbus command (about 0.25 ms) for six fixed styles.
package style

import "strings"

// SGR parameters of the styles.
const (
	sgrBold    = "1"
	sgrRed     = "31"
	sgrGreen   = "32"
	sgrYellow  = "33"
	sgrCyan    = "36"
	sgrBrBlack = "90" // "bright black": grey on most terminals
)

// Styles renders text for a terminal, or passes it through when disabled.
type Styles struct {
	enabled bool
}

// New returns styles that colour their output only when enabled is true.
// The 16-colour palette is used instead of probing the terminal: probing
// costs start-up time and can write query sequences.
func New(enabled bool) *Styles { return &Styles{enabled: enabled} }

// render wraps each line of text in the SGR sequence, so a style never
// leaks past a newline into other output.
func (s *Styles) render(sgr, text string) string {
	if !s.enabled || text == "" {
		return text
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "\x1b[" + sgr + "m" + l + "\x1b[0m"
		}
	}
	return strings.Join(lines, "\n")
}

// Enabled reports whether the styles emit escape sequences.
func (s *Styles) Enabled() bool { return s.enabled }

// Bold emphasises text.
func (s *Styles) Bold(text string) string { return s.render(sgrBold, text) }

// Success colours text green.
func (s *Styles) Success(text string) string { return s.render(sgrGreen, text) }

// Warning colours text yellow.
func (s *Styles) Warning(text string) string { return s.render(sgrYellow, text) }

// Error colours text red.
func (s *Styles) Error(text string) string { return s.render(sgrRed, text) }

// Muted dims text.
func (s *Styles) Muted(text string) string { return s.render(sgrBrBlack, text) }

// Key colours a label or identifier.
func (s *Styles) Key(text string) string { return s.render(sgrCyan, text) }

// SuccessIcon is a green check mark.
func (s *Styles) SuccessIcon() string { return s.Success("✓") }

// FailureIcon is a red cross.
func (s *Styles) FailureIcon() string { return s.Error("✗") }

// WarningIcon is a yellow exclamation mark.
func (s *Styles) WarningIcon() string { return s.Warning("!") }
