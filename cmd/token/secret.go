package token

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
)

// Secret sizes accepted by `token secret`. 32 bytes is the HMAC-SHA256
// block-size-safe minimum; more than 1 KiB buys nothing.
const (
	minSecretBytes = 32
	maxSecretBytes = 1024
)

func newCmdSecret(f *cmdutil.Factory) *cobra.Command {
	var n int
	cmd := &cobra.Command{
		Use:   "secret [--bytes 32] [--json]",
		Short: "Print a new random secret (hex)",
		Long: `Print a new random secret from the operating system's CSPRNG, hex-encoded.
The hex string itself is the secret: Nimbus uses the bytes of JWT_SECRET as they
are, without decoding. With --json: {"secret":"…","bytes":32}.`,
		Example: `  nimbus token secret | npx wrangler secret put JWT_SECRET
  export JWT_SECRET=$(nimbus token secret)
  nimbus token secret --bytes 64 --json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if n < minSecretBytes || n > maxSecretBytes {
				return clierr.Usagef("--bytes must be between %d and %d, got %d", minSecretBytes, maxSecretBytes, n).
					WithHint("32 bytes (256 bits) is plenty for HMAC-SHA256")
			}
			buf := make([]byte, n)
			if _, err := rand.Read(buf); err != nil {
				return err
			}
			secret := hex.EncodeToString(buf)
			if f.JSON {
				return f.PrintJSON(struct {
					Secret string `json:"secret"`
					Bytes  int    `json:"bytes"`
				}{secret, n})
			}
			_, err := fmt.Fprintln(f.IOStreams.Out, secret)
			return err
		},
	}
	cmd.Flags().IntVar(&n, "bytes", minSecretBytes, "number of random bytes (at least 32)")
	return cmd
}
