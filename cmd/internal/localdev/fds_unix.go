//go:build unix

package localdev

import (
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// KeepInheritedFromCommands marks every descriptor above standard error
// close-on-exec. A descriptor that nimbus inherited from its parent (a
// shell's, a CI runner's) would otherwise pass on to every command of
// every sandbox: Go opens its own descriptors close-on-exec, but leaves
// inherited ones as they came. Call it before the backend starts.
func KeepInheritedFromCommands() {
	dir := "/dev/fd"
	if runtime.GOOS == "linux" {
		dir = "/proc/self/fd"
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err == nil && flags&unix.FD_CLOEXEC == 0 {
			_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFD, flags|unix.FD_CLOEXEC)
		}
	}
}
