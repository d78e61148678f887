package token

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/tokencli"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

func newCmdMint(f *cmdutil.Factory) *cobra.Command {
	var tenant, sub, ttl, scopes, sid, secretFile string
	cmd := &cobra.Command{
		Use:   "mint --tenant T [--sub S] [--ttl 3600|15m|24h] [--scopes a,b] [--sid ID]",
		Short: "Mint a session token",
		Long: `Mint a session token signed with JWT_SECRET (or --secret-file).

The token alone is written to stdout, so it can be captured:

  TOKEN=$(nimbus token mint --tenant acme --sub ci --scopes sandbox:use --sid job-123 --ttl 15m)

--ttl takes seconds, as upstream does ("3600", "1.5"), or a Go duration ("15m",
"24h"); the default is 1h and the maximum 30 days. --scopes is a comma-separated
list; leaving it out mints a legacy full-trust token. --sid pins the token to
one session or sandbox id.`,
		Example: `  nimbus token mint --tenant acme --sub alice --scopes session:attach --sid pretty-otter-1234
  nimbus token mint --tenant acme --ttl 15m --json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if tenant == "" {
				return clierr.Usagef("--tenant required").WithHint("pass the tenant id, e.g. --tenant acme")
			}
			secrets, err := tokencli.LoadSecrets(f.Getenv, f.IOStreams.In, secretFile, "")
			if err != nil {
				return err
			}
			if secrets.Current == "" {
				return clierr.Configf("export JWT_SECRET, or pass --secret-file FILE; 'nimbus token secret' makes a new one",
					"JWT_SECRET env var required")
			}
			in := token.Input{Tenant: &tenant}
			flags := cmd.Flags()
			if flags.Changed("sub") {
				in.Subject = &sub
			}
			if flags.Changed("sid") {
				in.SessionID = &sid
			}
			in.Scopes = token.ParseScopes(scopes)
			if ttl != "" {
				d, err := token.ParseTTL(ttl)
				if err != nil {
					return clierr.Usagef("--ttl: %v", err).WithHint("give seconds (3600) or a duration (15m, 24h); at most 30 days")
				}
				in.TTL = &d
			}
			issued, err := token.Issuer{Secret: secrets.Current, Now: f.Now}.Issue(in)
			if err != nil {
				return tokencli.Error(err)
			}
			ios := f.IOStreams
			if f.JSON {
				_, err = ios.Out.Write(tokencli.MintJSON(issued))
				return err
			}
			if _, err := fmt.Fprintln(ios.Out, issued.Token); err != nil {
				return err
			}
			if ios.IsStderrTTY() {
				st := ios.Styles()
				fmt.Fprintf(ios.ErrOut, "%s Minted a token\n%s", st.SuccessIcon(), tokencli.Summary(st, issued.Claims, f.Now()))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&tenant, "tenant", "", "tenant id (tn claim, required)")
	fl.StringVar(&sub, "sub", "", "subject or user id (sub claim)")
	fl.StringVar(&ttl, "ttl", "", "lifetime: seconds or a duration such as 15m (default 1h, max 30 days)")
	fl.StringVar(&scopes, "scopes", "", "comma-separated scopes, e.g. sandbox:use,session:destroy")
	fl.StringVar(&sid, "sid", "", "pin the token to this session or sandbox `id`")
	fl.StringVar(&secretFile, "secret-file", "", "read the signing secret from `FILE` (\"-\" for stdin) instead of JWT_SECRET")
	return cmd
}
