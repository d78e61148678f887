package cmdutil

import (
	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/internal/clierr"
)

// EmptyFlag is a string flag that may not be given an empty value, and
// the hint that says what to give instead (or that leaving it out means
// its default).
type EmptyFlag struct {
	Name, Hint string
}

// RefuseEmpty returns a usage error (exit 64) for the first of flags that
// was given with an empty value (--name "", or --name "$NAME" with NAME
// unset): leaving such a flag out means its default, and an empty value
// meant the same without a word, which hid the mistake. Flags that were
// not given, or not defined on cmd, are not looked at.
func RefuseEmpty(cmd *cobra.Command, flags ...EmptyFlag) error {
	for _, ef := range flags {
		fl := cmd.Flags().Lookup(ef.Name)
		if fl == nil || !fl.Changed || fl.Value.String() != "" {
			continue
		}
		return clierr.Usagef("--%s \"\" is empty", ef.Name).WithHint(ef.Hint)
	}
	return nil
}
