// Package style holds the few lipgloss styles nimbus uses for human output.
// When colour is off every style renders its input unchanged, so callers
// never branch on colour themselves.
package style

import (
	"io"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// Styles renders text for a terminal, or passes it through when disabled.
type Styles struct {
	enabled bool
	bold    lipgloss.Style
	success lipgloss.Style
	warning lipgloss.Style
	failure lipgloss.Style
	muted   lipgloss.Style
	key     lipgloss.Style
}

// New returns styles that colour their output only when enabled is true.
// The colour profile is fixed to 16-colour ANSI instead of being probed:
// probing the terminal costs start-up time and can write query sequences.
func New(enabled bool) *Styles {
	r := lipgloss.NewRenderer(io.Discard)
	if enabled {
		r.SetColorProfile(termenv.ANSI)
	} else {
		r.SetColorProfile(termenv.Ascii)
	}
	return &Styles{
		enabled: enabled,
		bold:    r.NewStyle().Bold(true),
		success: r.NewStyle().Foreground(lipgloss.Color("2")),
		warning: r.NewStyle().Foreground(lipgloss.Color("3")),
		failure: r.NewStyle().Foreground(lipgloss.Color("1")),
		muted:   r.NewStyle().Foreground(lipgloss.Color("8")),
		key:     r.NewStyle().Foreground(lipgloss.Color("6")),
	}
}

func (s *Styles) render(st lipgloss.Style, text string) string {
	if !s.enabled {
		return text
	}
	return st.Render(text)
}

// Enabled reports whether the styles emit escape sequences.
func (s *Styles) Enabled() bool { return s.enabled }

// Bold emphasises text.
func (s *Styles) Bold(text string) string { return s.render(s.bold, text) }

// Success colours text green.
func (s *Styles) Success(text string) string { return s.render(s.success, text) }

// Warning colours text yellow.
func (s *Styles) Warning(text string) string { return s.render(s.warning, text) }

// Error colours text red.
func (s *Styles) Error(text string) string { return s.render(s.failure, text) }

// Muted dims text.
func (s *Styles) Muted(text string) string { return s.render(s.muted, text) }

// Key colours a label or identifier.
func (s *Styles) Key(text string) string { return s.render(s.key, text) }

// SuccessIcon is a green check mark.
func (s *Styles) SuccessIcon() string { return s.Success("✓") }

// FailureIcon is a red cross.
func (s *Styles) FailureIcon() string { return s.Error("✗") }

// WarningIcon is a yellow exclamation mark.
func (s *Styles) WarningIcon() string { return s.Warning("!") }
