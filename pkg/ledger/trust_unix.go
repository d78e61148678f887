//go:build unix

package ledger

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkTrusted refuses a ledger file that another user could have written:
// a drain sends this user's credentials to the endpoint each entry names,
// so an entry planted in a shared temporary directory would carry them to
// a server of the planter's choosing. The file must be a regular file (not
// a symlink) owned by this user and writable by no one else. A missing
// file is fine: it is created with mode 0600.
func checkTrusted(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: it is not a regular file (%s)", ErrUntrusted, fi.Mode().Type())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%w: it belongs to user %d, not to this user (%d)", ErrUntrusted, st.Uid, os.Geteuid())
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%w: others can write it (mode %04o)", ErrUntrusted, fi.Mode().Perm())
	}
	return nil
}
