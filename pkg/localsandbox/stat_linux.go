package localsandbox

import "syscall"

// statTimes are st's change and access times (statSys).
func statTimes(st *syscall.Stat_t) (ctime, atime syscall.Timespec) { return st.Ctim, st.Atim }
