package localsandbox

import "syscall"

func ctimeMs(st *syscall.Stat_t) int64 {
	return st.Ctimespec.Sec*1000 + st.Ctimespec.Nsec/1e6
}
func atimeMs(st *syscall.Stat_t) int64 {
	return st.Atimespec.Sec*1000 + st.Atimespec.Nsec/1e6
}
