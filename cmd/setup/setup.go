// Package setup wires `nimbus setup cloudflare`: flags, credentials and
// output. The provisioning itself lives in pkg/provision.
package setup

import (
	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/internal/cmdutil"
)

// NewCmdSetup returns the `setup` group.
func NewCmdSetup(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Provision the cloud resources a Nimbus deployment needs",
	}
	cmdutil.MakeGroup(cmd)
	cmd.AddCommand(newCmdCloudflare(f))
	return cmd
}
