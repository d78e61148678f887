//go:build unix && !linux

package proctest

import (
	"os/exec"
	"strconv"
	"strings"
)

// WithArg lists the live processes (zombies excluded) with arg among
// their arguments.
func WithArg(arg string) []int {
	out, err := exec.Command("ps", "-ax", "-o", "pid=", "-o", "stat=", "-o", "args=").Output()
	if err != nil {
		return nil
	}
	var pids []int
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || strings.HasPrefix(f[1], "Z") {
			continue
		}
		for _, a := range f[2:] {
			if a == arg {
				if pid, err := strconv.Atoi(f[0]); err == nil {
					pids = append(pids, pid)
				}
				break
			}
		}
	}
	return pids
}
