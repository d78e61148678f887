package sandbox

import (
	"strings"

	"github.com/nimbus-sh/nimbus/internal/clierr"
)

// blankCommand refuses a COMMAND that is one word of white space only,
// which the sandbox's shell runs as an empty line and exits 0: with
// `-- "$CMD"` and CMD unset, a CI step that tests nothing passed. Several
// words are quoted one by one, so a blank one among them fails in the
// sandbox ("command not found") and needs no check here. what names the
// argument ("COMMAND", "CODE") and usage is the command's usage line.
func blankCommand(words []string, what, usage string) *clierr.Error {
	if len(words) != 1 || strings.TrimSpace(words[0]) != "" {
		return nil
	}
	return clierr.Usagef("the %s is empty: the sandbox would run nothing and report success", what).
		WithHint("a variable in it may be unset; " + usage)
}
