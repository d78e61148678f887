//go:build unix

package recentids

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// tryLock takes f's exclusive advisory lock if it is free, without
// waiting: false (and no error) when another holds it.
func tryLock(f *os.File) (bool, error) {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, unix.EWOULDBLOCK):
			return false, nil
		case !errors.Is(err, unix.EINTR):
			return false, err
		}
	}
}

// unlock releases f's lock (closing f would too).
func unlock(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_UN) }
