package token

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/tokencli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// maxTokenSize bounds a token read from stdin; real tokens are well under
// a kilobyte.
const maxTokenSize = 1 << 20

// readTokenArg returns the token from args[0], or from stdin when the
// argument is "-" or absent and stdin is not a terminal, less the white
// space around it (token.Trim, as the client's NIMBUS_TOKEN): inspect
// and verify read a token echoed into a file as the client does.
func readTokenArg(f *cmdutil.Factory, args []string) (string, error) {
	if len(args) == 1 && args[0] != "-" {
		return token.Trim(args[0]), nil
	}
	if len(args) == 0 && f.IOStreams.IsStdinTTY() {
		return "", nil
	}
	data, err := io.ReadAll(io.LimitReader(f.IOStreams.In, maxTokenSize+1))
	if err != nil {
		return "", clierr.Wrap(err, exitcode.IOErr, clierr.CodeIO, "cannot read the token from stdin: "+err.Error(), "")
	}
	if len(data) > maxTokenSize {
		return "", clierr.Usagef("stdin holds more than %d bytes; that is not a token", maxTokenSize)
	}
	return token.Trim(string(data)), nil
}

func newCmdVerify(f *cmdutil.Factory) *cobra.Command {
	var secretFile, previousFile string
	cmd := &cobra.Command{
		Use:   "verify [TOKEN|-]",
		Short: "Verify a session token and print its claims",
		Long: `Verify a token with JWT_SECRET, then JWT_SECRET_PREVIOUS (during a rotation),
exactly as a Nimbus Worker does, and print its claims.

The token is the argument, or is read from stdin when the argument is "-" or
missing. When stdout is not a terminal the output is upstream's JSON
({"claims":…,"doInstanceName":…}); --json adds which secret matched and the
seconds left before expiry.`,
		Example: `  nimbus token verify "$TOKEN"
  echo "$TOKEN" | nimbus token verify --json`,
		Args: cmdutil.MaximumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.RefuseEmpty(cmd,
				cmdutil.EmptyFlag{Name: "secret-file", Hint: secretFileHint},
				cmdutil.EmptyFlag{Name: "previous-secret-file", Hint: "name the file that holds the previous secret, or leave the flag out to use JWT_SECRET_PREVIOUS"}); err != nil {
				return err
			}
			stdinUsers := 0
			if len(args) == 0 || args[0] == "-" {
				stdinUsers++
			}
			for _, file := range []string{secretFile, previousFile} {
				if file == "-" {
					stdinUsers++
				}
			}
			if stdinUsers > 1 {
				return clierr.Usagef("only one of the token, --secret-file and --previous-secret-file can be read from stdin").
					WithHint("pass the token as an argument, or the secrets in files")
			}
			tok, err := readTokenArg(f, args)
			if err != nil {
				return err
			}
			if tok == "" {
				return clierr.Usagef("<token> argument required").WithHint("pass the token as an argument or on stdin")
			}
			secrets, err := tokencli.LoadSecrets(f.Getenv, f.IOStreams.In, secretFile, previousFile)
			if err != nil {
				return err
			}
			if secrets.Current == "" {
				return clierr.Configf("export JWT_SECRET (and JWT_SECRET_PREVIOUS during a rotation), or pass --secret-file FILE",
					"JWT_SECRET env var required")
			}
			f.Warn(tokencli.CheckingSecretWarning("JWT_SECRET", secrets.Current))
			f.Warn(tokencli.CheckingSecretWarning("JWT_SECRET_PREVIOUS", secrets.Previous))
			v, err := token.Verifier{Secret: secrets.Current, Previous: secrets.Previous, Now: f.Now}.Verify(tok)
			if err != nil {
				// The hints that say to mint a token name the command
				// that mints this one afresh: an expired token or one
				// with a claim of the wrong shape was signed with the
				// secret (the signature is checked first).
				var claims token.Claims
				if d, derr := token.Decode(tok); derr == nil {
					claims = d.Claims
				}
				return tokencli.ErrorMinting(err, tokencli.MintCommand(claims, secretFile))
			}
			ios := f.IOStreams
			switch {
			case f.JSON:
				err = f.PrintJSON(tokencli.VerifyJSON(v, f.Now()))
			case !ios.IsStdoutTTY():
				_, err = ios.Out.Write(tokencli.UpstreamVerifyJSON(v))
			default:
				st := ios.Styles()
				_, err = fmt.Fprintf(ios.Out, "%s Valid token %s\n%s  %s %s\n",
					st.SuccessIcon(), st.Muted("(signed with "+v.Secret.String()+")"),
					tokencli.Summary(st, v.Claims, f.Now()),
					st.Key(fmt.Sprintf("%-9s", "instance")), v.DOInstanceName)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&secretFile, "secret-file", "", "read JWT_SECRET from `FILE` (\"-\" for stdin)")
	cmd.Flags().StringVar(&previousFile, "previous-secret-file", "", "read JWT_SECRET_PREVIOUS from `FILE`")
	return cmd
}
