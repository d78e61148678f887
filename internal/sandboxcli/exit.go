package sandboxcli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/jsjson"
)

// CodeExitRange names a remote exit code that is not a process exit
// status (outside 0-255, or not an integer).
const CodeExitRange = "E_EXIT_CODE_RANGE"

// RemoteExit maps the exit code a remote command reported (code, and raw
// as the server sent it) to nimbus's exit status. Only a remote 0 gives 0
// and 1-255 pass through unchanged. Anything else (256, -1, 1.5) gives
// ExecFailed (125) with a warning: masking it to 8 bits could turn a
// failure into a success (256 & 0xff is 0).
func RemoteExit(code int, raw json.Number) (status int, warning string) {
	shown := string(raw)
	if shown == "" {
		shown = strconv.Itoa(code)
	}
	if f, err := strconv.ParseFloat(shown, 64); err == nil && f == 0 {
		return exitcode.OK, ""
	}
	if code >= 1 && code <= 255 {
		return code, ""
	}
	return exitcode.ExecFailed, fmt.Sprintf("the remote command reported exit code %s, which is not an exit status (0-255); exiting %d", shown, exitcode.ExecFailed)
}

// Warn writes a warning to stderr: "nimbus: warning: <msg>" for people,
// or one JSON line {"warning","code"} for programs (--json, or stderr not
// a terminal), like errors.
func Warn(w io.Writer, tty, jsonOut bool, code, msg string) {
	if jsonOut || !tty {
		b := append([]byte(`{"warning":`), jsjson.AppendQuote(nil, msg)...)
		b = append(b, `,"code":`...)
		b = append(jsjson.AppendQuote(b, code), "}\n"...)
		_, _ = w.Write(b)
		return
	}
	_, _ = fmt.Fprintf(w, "nimbus: warning: %s (%s)\n", msg, code)
}
