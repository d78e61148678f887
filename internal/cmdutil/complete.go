package cmdutil

import "github.com/spf13/cobra"

// CompleteWords makes the shell complete the value of cmd's flag with
// words, and with no file names: without it cobra offers the files of the
// current directory for every flag, as if --print-config or --language
// took a path. It panics when cmd has no such flag, a wiring mistake.
func CompleteWords(cmd *cobra.Command, flag string, words ...string) {
	if err := cmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(words, cobra.ShellCompDirectiveNoFileComp)); err != nil {
		panic(err)
	}
}
