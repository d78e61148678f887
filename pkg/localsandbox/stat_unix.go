//go:build linux || darwin

package localsandbox

import (
	"io/fs"
	"syscall"
)

// statSys adds the fields of the platform's stat: the full st_mode (type
// bits included, as Node reports it), inode, owner and times (epoch
// milliseconds). statTimes (per platform: the fields' names differ) gives
// the times.
func statSys(fi fs.FileInfo, out map[string]any) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ctime, atime := statTimes(st)
		out["mode"] = uint32(st.Mode)
		out["ino"] = st.Ino
		out["uid"] = st.Uid
		out["gid"] = st.Gid
		out["ctime"] = epochMs(ctime)
		out["atime"] = epochMs(atime)
	}
}

// epochMs is t in milliseconds since the epoch.
func epochMs(t syscall.Timespec) int64 {
	sec, nsec := t.Unix()
	return sec*1000 + nsec/1e6
}
