//go:build unix

package localsandbox

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// checkDataDir refuses a data directory that another user could change
// under the server: one that is not this user's, or that others may
// write, or that lies in such a directory (other than one with the sticky
// bit, such as /tmp, where others can add entries but not replace this
// user's). Whoever can write there could swap a sandbox's directory for a
// symlink to this user's files, or plant a .bashrc in a sandbox's home for
// the terminal to run as this user, or a jwt-secret they know. dir is
// absolute and exists; so does sub (the sandboxes directory), checked as
// dir is.
func checkDataDir(dir, sub string) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	uid := uint32(os.Geteuid())
	for _, d := range []string{real, filepath.Join(real, sub)} {
		fi, err := os.Lstat(d)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", d)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != uid {
			return fmt.Errorf("%s belongs to user %d, not to this user (%d)", d, st.Uid, uid)
		}
		if fi.Mode().Perm()&0o022 != 0 {
			return fmt.Errorf("others can write %s (mode %04o): run chmod go-w %s", d, fi.Mode().Perm(), d)
		}
	}
	for d := filepath.Dir(real); ; d = filepath.Dir(d) {
		fi, err := os.Lstat(d)
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != uid && st.Uid != 0 {
			return fmt.Errorf("its parent %s belongs to user %d, who could replace it", d, st.Uid)
		}
		if fi.Mode().Perm()&0o002 != 0 && fi.Mode()&fs.ModeSticky == 0 {
			return fmt.Errorf("anyone can write its parent %s (mode %04o) and replace it", d, fi.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}
