package proctest

import (
	"os"
	"strconv"
	"strings"
)

// WithArg lists the live host processes (zombies excluded) with arg
// among their arguments, whatever pid namespace they run in.
func WithArg(arg string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(b) == 0 {
			continue
		}
		found := false
		for _, a := range strings.Split(string(b), "\x00") {
			if a == arg {
				found = true
			}
		}
		if !found {
			continue
		}
		st, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if _, rest, _ := strings.Cut(string(st), ") "); strings.HasPrefix(rest, "Z") || strings.HasPrefix(rest, "X") {
			continue
		}
		out = append(out, pid)
	}
	return out
}
