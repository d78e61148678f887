package cmdutil

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/internal/clierr"
)

// MakeGroup turns cmd into a command group: without arguments it prints
// its help, and with an unknown subcommand it fails with a usage error
// (exit 64) and suggestions, where cobra alone would print help and exit 0
// for nested groups.
func MakeGroup(cmd *cobra.Command) *cobra.Command {
	cmd.Args = cobra.ArbitraryArgs
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return c.Help()
		}
		e := clierr.Usagef("unknown command %q for %q", args[0], c.CommandPath())
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			e.Hint = "did you mean " + strings.Join(s, " or ") + "?"
		} else {
			e.Hint = "run '" + c.CommandPath() + " --help' to see the commands"
		}
		return e
	}
	return cmd
}

// quickAnnotation marks commands that finish in milliseconds without I/O
// to wait on (Quick).
const quickAnnotation = "nimbus/quick"

// Quick marks cmd as finishing at once (minting, decoding, printing a
// version): the root does not watch for Ctrl-C around it, which saves the
// thread signal delivery needs, and Ctrl-C simply ends the process (exit
// 130 in a shell) as it would any program. It returns cmd.
func Quick(cmd *cobra.Command) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[quickAnnotation] = "true"
	return cmd
}

// IsQuick reports whether cmd was marked with Quick.
func IsQuick(cmd *cobra.Command) bool { return cmd.Annotations[quickAnnotation] == "true" }

// GuardHelpTopics makes cobra's help command (help) reject a topic that
// names no command, as an unknown command is rejected: a usage error (64)
// naming the topic, with the closest commands as a hint. cobra printed
// the root's help and exited 0, so a typo looked like an answer.
func GuardHelpTopics(help *cobra.Command) {
	show, showE := help.Run, help.RunE
	help.Run = nil
	help.RunE = func(c *cobra.Command, args []string) error {
		root := c.Root()
		found, rest, err := root.Find(args)
		if err != nil || found == nil {
			found, rest = root, args
		}
		if len(rest) > 0 {
			e := clierr.Usagef("unknown help topic %q", strings.Join(args, " "))
			// The topics named as they are typed: 'nimbus help sandbox exec'.
			parent := strings.TrimPrefix(found.CommandPath(), root.Name())
			var names []string
			for _, s := range found.SuggestionsFor(rest[0]) {
				names = append(names, "'"+root.Name()+" help "+strings.TrimSpace(parent+" "+s)+"'")
			}
			if len(names) > 0 {
				e.Hint = "did you mean " + strings.Join(names, " or ") + "?"
			} else if found.HasSubCommands() {
				e.Hint = "run '" + found.CommandPath() + " --help' to see the commands"
			} else {
				e.Hint = "run '" + found.CommandPath() + " --help' for usage"
			}
			return e
		}
		if showE != nil {
			return showE(c, args)
		}
		show(c, args)
		return nil
	}
}
