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

// lockPoll is the longest pause between two tries to take a lock that
// another process holds (the first pauses are shorter).
const lockPoll = 20 * time.Millisecond

// ErrBusy is what Remember and Forget return when another process held
// the file's lock for longer than they wait (2 s): they changed nothing.
var ErrBusy = errors.New("recently used sandboxes: the file is locked by another process")

// lockFile creates the directory of the file at path (mode 0700) and
// takes an exclusive advisory lock on the file beside it (path +
// ".lock"), so that two processes reading, changing and replacing the
// file at once both keep their records. unlockFile releases the lock
// and closes the file. It returns ErrBusy when the lock is not free within
// lockWait. It tries without waiting (tryLock) until then, pausing in
// between, in the calling goroutine: a call that gives up leaves nothing
// behind (a goroutine blocked in a waiting lock call could not be
// stopped, and would hold the file until the other process let go).
func lockFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	lf, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(lockWait)
	pause := time.Millisecond
	for {
		ok, err := tryLock(lf)
		if err != nil {
			lf.Close()
			return nil, err
		}
		if ok {
			return lf, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			lf.Close()
			return nil, ErrBusy
		}
		time.Sleep(min(pause, left))
		pause = min(2*pause, lockPoll)
	}
}

// unlockFile releases the lock lockFile took on lf and closes it. The
// release comes first: Windows frees a lock left at close only "after a
// delay that depends on system resources", and a command that comes
// right after would wait for it, or give up (ErrBusy) and lose its
// record.
func unlockFile(lf *os.File) {
	_ = unlock(lf)
	_ = lf.Close()
}
