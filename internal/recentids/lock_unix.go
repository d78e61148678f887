//go:build unix

package recentids

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// lock takes f's exclusive advisory lock, waiting for it.
func lock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
