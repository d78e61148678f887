package localsandbox

import "syscall"

func ctimeMs(st *syscall.Stat_t) int64 { return st.Ctim.Sec*1000 + st.Ctim.Nsec/1e6 }
func atimeMs(st *syscall.Stat_t) int64 { return st.Atim.Sec*1000 + st.Atim.Nsec/1e6 }
