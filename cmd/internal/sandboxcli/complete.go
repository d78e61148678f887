package sandboxcli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/pkg/ledger"
)

// CompleteID is the completion of commands whose first argument is a
// sandbox id: the ids of the cleanup ledger for it, and no file names
// for any argument.
func CompleteID(f *cmdutil.Factory) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return LedgerIDs(f, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// LedgerIDs are the sandbox ids starting with prefix that the cleanup
// ledger holds.
func LedgerIDs(f *cmdutil.Factory, prefix string) []string {
	// A ledger that cannot be read (or only in part) offers what it can:
	// completion says nothing about it.
	entries, _ := ledger.New(f.Paths().LedgerFile()).Pending()
	var out []string
	for i := range entries {
		if id := entries[i].ID; strings.HasPrefix(id, prefix) {
			out = append(out, id)
		}
	}
	return out
}
