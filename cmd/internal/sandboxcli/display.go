package sandboxcli

import (
	"strings"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

// DisplayText returns a message as it is safe to print on one line: every
// path named in paths is shown with clierr.Printable, then what is left of
// control characters is dropped and newlines become "\n".
func DisplayText(msg string, paths ...string) string {
	for _, p := range paths {
		if p != "" {
			if d := clierr.Printable(p); d != p {
				msg = strings.ReplaceAll(msg, p, d)
			}
		}
	}
	return strings.ReplaceAll(strings.ReplaceAll(clierr.TerminalText(msg), "\n", `\n`), "\t", " ")
}

// FailureText renders a failure ("path: message") for a terminal, its
// path quoted when it holds control characters (see clierr.Printable).
func FailureText(f transfer.Failure) string {
	return DisplayText(f.String(), f.Path)
}
