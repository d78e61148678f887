package token

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/tokencli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

func newCmdMint(f *cmdutil.Factory) *cobra.Command {
	var tenant, sub, sid, secretFile string
	var strict bool
	var mf tokencli.MintFlags
	cmd := &cobra.Command{
		Use:   "mint --tenant T [--sub S] [--ttl 3600|15m|1d] [--scopes a,b]... [--full-trust] [--sid ID]",
		Short: "Mint a session token",
		Long: `Mint a session token signed with JWT_SECRET (or --secret-file).

The token alone is written to stdout, so it can be captured:

  TOKEN=$(nimbus token mint --tenant acme --sub ci --scopes sandbox:use \
    --sid job-123 --ttl 15m)

--ttl takes seconds exactly as upstream does ("3600", "1.5", "1e3"; fractions
of a second are cut, so "59.9" is 59 s), or a duration ("15m", "24h", "1d");
the default is 1h and the maximum 30 days. Hexadecimal, octal and binary
numbers are refused.

--scopes is a comma-separated list and may be repeated; the lists add up.
Leaving it out mints a legacy full-trust token without a scopes claim, as
upstream does; an explicitly empty list is refused unless --full-trust says
that is meant. --sid pins the token to one session or sandbox id.

A JWT_SECRET shorter than 32 bytes gets a warning on stderr; with --strict it
is an error (exit 65).`,
		Example: `  nimbus token mint --tenant acme --sub alice --scopes session:attach --sid pretty-otter-1234
  nimbus token mint --tenant acme --scopes sandbox:use --scopes session:destroy --ttl 15m --json
  nimbus token mint --tenant acme --full-trust --ttl 1d --strict`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.RefuseEmpty(cmd, cmdutil.EmptyFlag{Name: "secret-file", Hint: secretFileHint}); err != nil {
				return err
			}
			if tenant == "" {
				return clierr.Usagef("--tenant required").WithHint("pass the tenant id, e.g. --tenant acme")
			}
			in := token.Input{Tenant: &tenant}
			if err := mf.Apply(&in); err != nil {
				return err
			}
			for _, w := range mf.ScopeWarnings() {
				f.Warn(w)
			}
			secrets, err := tokencli.LoadSecrets(f.Getenv, f.IOStreams.In, secretFile, "")
			if err != nil {
				return err
			}
			if secrets.Current == "" {
				return clierr.Configf("export JWT_SECRET, or pass --secret-file FILE; 'nimbus token secret' makes a new one",
					"JWT_SECRET env var required")
			}
			source := "JWT_SECRET"
			switch secretFile {
			case "":
			case "-":
				source = "the secret on standard input"
			default:
				source = "the secret in " + secretFile
			}
			warning, err := tokencli.WeakSecretFrom(secrets.Current, source, strict)
			if err != nil {
				return err
			}
			f.Warn(warning)
			flags := cmd.Flags()
			if flags.Changed("sub") {
				in.Subject = &sub
			}
			if flags.Changed("sid") {
				in.SessionID = &sid
			}
			issued, err := token.Issuer{Secret: secrets.Current, Now: f.Now}.Issue(in)
			if err != nil {
				return tokencli.Error(err)
			}
			ios := f.IOStreams
			if f.JSON {
				return f.PrintJSON(tokencli.MintJSON(issued))
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
	mf.Add(fl, "lifetime: seconds or a duration such as 15m or 1d (default 1h, max 30 days)",
		"comma-separated scopes, e.g. sandbox:use,session:destroy (repeatable)")
	fl.StringVar(&sid, "sid", "", "pin the token to this session or sandbox `id`")
	fl.StringVar(&secretFile, "secret-file", "", "read the signing secret from `FILE` (\"-\" for stdin) instead of JWT_SECRET")
	fl.BoolVar(&strict, "strict", false, "refuse a JWT_SECRET shorter than 32 bytes instead of warning")
	return cmd
}
