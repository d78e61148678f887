//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package cmdutil

import "golang.org/x/sys/unix"

// echoOff turns the terminal's echo off before the prompt is shown, so
// that nothing typed once the prompt is visible can be echoed: term.ReadPassword
// turns it off too, but only after the prompt is out, and a paste (or a
// script driving the terminal) that answers the prompt at once landed in
// that gap and was echoed. The caller restores the terminal's state.
func echoOff(fd int) error {
	t, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return err
	}
	t.Lflag &^= unix.ECHO
	return unix.IoctlSetTermios(fd, ioctlSetTermios, t)
}
