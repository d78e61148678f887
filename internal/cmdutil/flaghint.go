package cmdutil

import (
	"errors"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/nimbus-sh/nimbus/internal/suggest"
)

// FlagErrorHint is the hint of a flag error of cmd: for an unknown flag
// close to one cmd has (--tenat, --timout), "did you mean --tenant?";
// otherwise fallback. A typo is the likelier mistake, and the fallback
// (read --help; put the remote command after --) does not point at it.
func FlagErrorHint(cmd *cobra.Command, err error, fallback string) string {
	var ne *pflag.NotExistError
	if !errors.As(err, &ne) || len(ne.GetSpecifiedName()) < 2 {
		return fallback
	}
	var names []string
	add := func(f *pflag.Flag) {
		if !f.Hidden {
			names = append(names, f.Name)
		}
	}
	cmd.LocalFlags().VisitAll(add)
	cmd.InheritedFlags().VisitAll(add)
	if near := suggest.Closest(ne.GetSpecifiedName(), names, 2); near != "" {
		return "did you mean --" + near + "?"
	}
	return fallback
}
