//go:build !linux

package localsandbox

import (
	"context"
	"os/exec"
	"time"
)

// hostListeners maps the TCP ports listened on by the process groups of
// leaders (host pid of each background process → the process) to the
// process, from lsof (present on macOS). Without lsof nothing is found:
// the app verbs then know ports only by their records.
func hostListeners(ctx context.Context, leaders map[int]*proc) map[int]*proc {
	bin, err := exec.LookPath("lsof")
	if err != nil {
		return map[int]*proc{}
	}
	lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	// -w: no warnings; lsof exits 1 when nothing matches.
	out, _ := exec.CommandContext(lctx, bin, "-nP", "-w", "-iTCP", "-sTCP:LISTEN", "-Fpgn").Output()
	return matchLsof(parseLsof(out), leaders)
}
