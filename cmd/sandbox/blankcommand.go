package sandbox

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
)

// firstArgID is the sandbox id of a command line whose first argument is
// ID, as a usage hint writes it (sandboxcli.ArgID): quoted, or the
// placeholder ID when there is no argument.
//
// It writes the id with ArgID itself, not through Hints.OnSandbox, which
// every other hint on a sandbox takes: it only renders the usage hints
// of a command line refused before any request is sent (exec, start,
// run-code, forward), so no destroy of the command can come before it,
// and the id may be none yet.
func firstArgID(args []string) string {
	if len(args) == 0 {
		return sandboxcli.ArgID("")
	}
	return sandboxcli.ArgID(args[0])
}

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

// idAndCommand is the arguments of a command written ID -- COMMAND...
// (exec, start) as ID then the COMMAND's words. An id that starts with
// '-' is written after a "--" that ends the flags ("exec -- -x -- make"),
// as hints write it (sandboxcli.ArgID): the "--" before the COMMAND is
// then an argument, and is dropped as it is when it ends the flags.
func idAndCommand(cmd *cobra.Command, args []string) []string {
	if cmd.ArgsLenAtDash() == 0 && len(args) > 1 && args[1] == "--" {
		return append([]string{args[0]}, args[2:]...)
	}
	return args
}
