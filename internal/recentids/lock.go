package recentids

import (
	"errors"
	"os"
	"path/filepath"
	"time"
)

// lockWait bounds how long Remember and Forget wait for another
// process's lock on the file: the file is a convenience for completion,
// and a command must not hang over it.
var lockWait = 2 * time.Second

// ErrBusy is what Remember and Forget return when another process held
// the file's lock for longer than they wait (2 s): they changed nothing.
var ErrBusy = errors.New("recently used sandboxes: the file is locked by another process")

// update replaces the file at path with what change makes of its records,
// under an exclusive advisory lock on the file beside it (path + ".lock"),
// so that two processes recording at once both keep their records. It
// creates the directory (mode 0700). change reports false to leave the
// file as it is. It returns ErrBusy, having changed nothing, when the lock
// is not free within lockWait.
func update(path string, change func([]record) ([]record, bool)) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	lf, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	// The lock is taken waiting in a goroutine, so that the wait can be
	// bounded: one given up on hands the file to the goroutine, which
	// closes it (releasing the lock, if it got it) once lock returns.
	locked := make(chan error, 1)
	go func() { locked <- lock(lf) }()
	timer := time.NewTimer(lockWait)
	defer timer.Stop()
	select {
	case err := <-locked:
		// Closing the file releases the lock.
		defer lf.Close()
		if err != nil {
			return err
		}
	case <-timer.C:
		go func() {
			<-locked
			lf.Close()
		}()
		return ErrBusy
	}
	rs, ok := change(read(path))
	if !ok {
		return nil
	}
	return write(path, rs)
}
