package sandboxcli

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

// DisplayPath returns a path as it is safe to print: unchanged when it is
// plain text, else Go-quoted ("a\x1b[31m\nb"), so that a file name a
// sandbox chose can neither send escape sequences to the terminal nor
// fake a line of output (a newline in a name becomes \n).
func DisplayPath(p string) string {
	// TerminalText keeps newlines and tabs, which a name must not hold
	// either; U+FFFD, valid or the decoding of invalid bytes, is quoted.
	if strings.ContainsAny(p, "\n\t") || strings.ContainsRune(p, utf8.RuneError) || clierr.TerminalText(p) != p {
		return strconv.Quote(p)
	}
	return p
}

// DisplayText returns a message as it is safe to print on one line: every
// path named in paths is shown with DisplayPath, then what is left of
// control characters is dropped and newlines become "\n".
func DisplayText(msg string, paths ...string) string {
	for _, p := range paths {
		if p != "" {
			if d := DisplayPath(p); d != p {
				msg = strings.ReplaceAll(msg, p, d)
			}
		}
	}
	return strings.ReplaceAll(strings.ReplaceAll(clierr.TerminalText(msg), "\n", `\n`), "\t", " ")
}

// FailureText renders a failure ("path: message") for a terminal, its
// path quoted when it holds control characters (see DisplayPath).
func FailureText(f transfer.Failure) string {
	return DisplayText(f.String(), f.Path)
}
