// Package version implements `nimbus version`.
package version

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/internal/buildinfo"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
)

// NewCmdVersion returns `nimbus version`.
func NewCmdVersion(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the nimbus version",
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info := buildinfo.Get()
			if f.JSON {
				return f.PrintJSON(info)
			}
			line := "nimbus " + info.Version
			if info.Commit != "" {
				commit := info.Commit
				if len(commit) > 12 {
					commit = commit[:12]
				}
				line += " (" + commit
				if info.Date != "" {
					line += ", " + info.Date
				}
				line += ")"
			}
			_, err := fmt.Fprintf(f.IOStreams.Out, "%s %s %s\n", line, info.GoVersion, info.Platform)
			return err
		},
	}
}
