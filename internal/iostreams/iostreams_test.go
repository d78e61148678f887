package iostreams

import (
	"strings"
	"testing"
)

// NO_COLOR and TERM=dumb are read by the command line (cmd
// TestColourOffWithNoColorOrDumbTerminal); here only the terminal rule.
func TestColorNeedsTerminal(t *testing.T) {
	ios, _, _, _ := Test()
	if ios.ColorEnabled() {
		t.Error("colour enabled without a terminal")
	}
	ios.SetStderrTTY(true)
	if !ios.ColorEnabled() || !strings.Contains(ios.Styles().Success("x"), "\x1b[") {
		t.Error("colour disabled on a terminal")
	}
	ios.SetColorDisabled(true)
	if ios.ColorEnabled() || ios.Styles().Success("x") != "x" {
		t.Error("--no-color did not disable colour")
	}
}
