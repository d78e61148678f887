//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package cmdutil

// echoOff does nothing here: term.ReadPassword turns the console's echo
// off itself (after the prompt is out).
func echoOff(int) error { return nil }
