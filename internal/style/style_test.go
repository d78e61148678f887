package style

import "testing"

// TestStylesBytes pins the escape sequences (the bytes lipgloss's 16-colour
// profile wrote, which terminal tests and users' screenshots rely on).
func TestStylesBytes(t *testing.T) {
	on, off := New(true), New(false)
	for _, c := range []struct {
		got  string
		want string
	}{
		{on.Bold("x"), "\x1b[1mx\x1b[0m"},
		{on.Success("x"), "\x1b[32mx\x1b[0m"},
		{on.Warning("x"), "\x1b[33mx\x1b[0m"},
		{on.Error("x"), "\x1b[31mx\x1b[0m"},
		{on.Muted("x"), "\x1b[90mx\x1b[0m"},
		{on.Key("x"), "\x1b[36mx\x1b[0m"},
		{on.SuccessIcon(), "\x1b[32m✓\x1b[0m"},
		{on.Bold("a b\nc"), "\x1b[1ma b\x1b[0m\n\x1b[1mc\x1b[0m"},
		{on.Muted(""), ""},
		{off.Error("plain"), "plain"},
		{off.WarningIcon(), "!"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if !on.Enabled() || off.Enabled() {
		t.Error("Enabled")
	}
}
