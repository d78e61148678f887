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
	return cmdutil.Quick(&cobra.Command{
		Use:   "version",
		Short: "Print the nimbus version",
		Long: `Print the version of this binary: release, commit and build date, Go version and
platform. 'nimbus --version' prints the same line.`,
		Example: `  nimbus version
  nimbus version --json | jq -r .version`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info := buildinfo.Get()
			if f.JSON {
				return f.PrintJSON(info)
			}
			_, err := fmt.Fprintln(f.IOStreams.Out, Line(info))
			return err
		},
	})
}

// Line is the one-line version, the same as cobra prints for --version:
// "nimbus version 1.2.3 (abc123def456, 2026-11-29T00:00:00Z) go1.26.8
// linux/amd64".
func Line(info buildinfo.Info) string { return "nimbus version " + Version(info) }

// Version is Line without "nimbus version ", for cobra's Command.Version.
func Version(info buildinfo.Info) string {
	v := info.Version
	if info.Commit != "" {
		commit := info.Commit
		if len(commit) > 12 {
			commit = commit[:12]
		}
		v += " (" + commit
		if info.Date != "" {
			v += ", " + info.Date
		}
		v += ")"
	}
	return v + " " + info.GoVersion + " " + info.Platform
}
