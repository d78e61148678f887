package token

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/tokencli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

func newCmdInspect(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect [TOKEN|-]",
		Short: "Decode a token WITHOUT verifying it",
		Example: `  nimbus token inspect "$TOKEN"
  pbpaste | nimbus token inspect - --json | jq .claims`,
		Long: `Decode a token's header and claims WITHOUT checking its signature, to see what
a token says while debugging. Nothing shown can be trusted; use 'nimbus token
verify' for that. Exits 65 when the input is not even a well-formed token; a
token the Worker would refuse (expired, an iat or exp that is not a number)
still exits 0, and the view says why.

Without a terminal, or with --json, it prints {verified, header, claims,
expiresAt, expired, dateError}: expiresAt (RFC 3339, null beyond the years 1
to 9999) and expired only when exp is a number, dateError {claims, error,
code} only when iat or exp is not (see docs/tokens.md).`,
		Args: cmdutil.MaximumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := readTokenArg(f, args)
			if err != nil {
				return err
			}
			if tok == "" {
				return clierr.Usagef("<token> argument required").WithHint("pass the token as an argument or on stdin")
			}
			d, err := token.Decode(tok)
			if err != nil {
				return tokencli.Error(err)
			}
			f.Warn(&clierr.Warning{Code: "W_NOT_VERIFIED", Message: "NOT VERIFIED: decoded without checking the signature; do not trust these claims"})
			if f.MachineOutput() {
				return f.PrintJSON(tokencli.InspectJSON(d, f.Now()))
			}
			ios := f.IOStreams
			st := ios.Styles()
			alg, _ := d.Header.Raw("alg")
			alg = clierr.Printable(alg)
			_, err = fmt.Fprintf(ios.Out, "%s %s\n%s  %s %d bytes\n", st.Bold("header"), alg,
				tokencli.Summary(st, d.Claims, f.Now()), st.Key(fmt.Sprintf("%-9s", "signature")), d.SignatureLen)
			return err
		},
	}
}
