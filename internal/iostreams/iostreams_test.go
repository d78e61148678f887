package iostreams

import (
	"strings"
	"testing"
)

func TestColorNeedsTerminalAndNoNoColor(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	if System().colorDisabled != true {
		t.Error("NO_COLOR=1 did not disable colour")
	}
	t.Setenv("NO_COLOR", "")
	if System().colorDisabled {
		t.Error("empty NO_COLOR disabled colour")
	}

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
