// Package token implements `nimbus token`: minting, verifying and
// inspecting session tokens and generating secrets.
package token

import (
	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/internal/cmdutil"
)

// NewCmdToken returns the `nimbus token` command group.
func NewCmdToken(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint, verify and inspect Nimbus session tokens",
		Long: `Mint, verify and inspect Nimbus session tokens (HS256 JWTs), byte-compatible
with the upstream Nimbus Worker.

Secrets come from JWT_SECRET and JWT_SECRET_PREVIOUS, or from --secret-file and
--previous-secret-file ("-" reads standard input; on a terminal it asks, with
the input hidden); never from a flag value.`,
		Example: `  nimbus token secret | npx wrangler secret put JWT_SECRET
  nimbus token mint --tenant acme --sub ci --scopes sandbox:use --sid job-123 --ttl 15m
  nimbus token verify "$TOKEN"
  nimbus token inspect "$TOKEN" --json`,
	}
	cmdutil.MakeGroup(cmd)
	// Local and instant: no interrupt handling needed (cmdutil.Quick).
	for _, c := range []*cobra.Command{newCmdMint(f), newCmdVerify(f), newCmdInspect(f), newCmdSecret(f)} {
		cmd.AddCommand(cmdutil.Quick(c))
	}
	return cmd
}

// secretFileHint is the hint of a --secret-file given empty, which
// silently meant JWT_SECRET: another secret than the file's.
const secretFileHint = `name the file that holds the secret ("-" for standard input), or leave --secret-file out to use JWT_SECRET`
