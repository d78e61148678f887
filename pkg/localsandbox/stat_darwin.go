package localsandbox

import (
	"io/fs"
	"syscall"
)

// statSys adds the fields of the platform's stat: the full st_mode (type
// bits included, as Node reports it), inode, owner and times.
func statSys(fi fs.FileInfo, out map[string]any) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		out["mode"] = uint32(st.Mode)
		out["ino"] = st.Ino
		out["uid"] = st.Uid
		out["gid"] = st.Gid
		out["ctime"] = ctimeMs(st)
		out["atime"] = atimeMs(st)
	}
}

func ctimeMs(st *syscall.Stat_t) int64 {
	return st.Ctimespec.Sec*1000 + st.Ctimespec.Nsec/1e6
}
func atimeMs(st *syscall.Stat_t) int64 {
	return st.Atimespec.Sec*1000 + st.Atimespec.Nsec/1e6
}
