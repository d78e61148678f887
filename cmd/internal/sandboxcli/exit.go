package sandboxcli

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
)

// CodeExitRange names a remote exit code that is not a process exit
// status (outside 0-255, or not an integer).
const CodeExitRange = "E_EXIT_CODE_RANGE"

// CommandExit maps the exit code a remote command reported (code, and raw
// as the server sent it) to nimbus's exit status: the one rule of exec,
// run-code and logs -f. Only a remote 0 gives 0 and 1-255 pass through
// unchanged. Anything else (256, -1, 1.5) gives ExecFailed (125) with a
// warning: masking it to 8 bits could turn a failure into a success
// (256 & 0xff is 0). (RemoteExit is the other mapping: error answers.)
func CommandExit(code int, raw json.Number) (status int, warning *clierr.Warning) {
	shown := string(raw)
	if shown == "" {
		shown = strconv.Itoa(code)
	}
	if code == 0 {
		// The client reads the number exactly: code is 0 only for a zero
		// (0, -0, 0.0), never for a tiny number a float rounds to 0
		// (1e-400).
		return exitcode.OK, nil
	}
	if code >= 1 && code <= 255 {
		return code, nil
	}
	return exitcode.ExecFailed, &clierr.Warning{
		Code:    CodeExitRange,
		Message: fmt.Sprintf("the remote command reported exit code %s, which is not an exit status (0-255); exiting %d", shown, exitcode.ExecFailed),
	}
}
