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
		Example: `  nimbus setup cloudflare --name my-worker --dry-run
  nimbus setup cloudflare --name my-worker --write-config
  nimbus setup cloudflare --name my-worker --set-secret`,
	}
	cmdutil.MakeGroup(cmd)
	cmd.AddCommand(newCmdCloudflare(f))
	return cmd
}
