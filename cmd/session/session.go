// Package session implements `nimbus session new|url|attach`: creating
// browser sessions on a Worker, building attach URLs, and attaching the
// local terminal to a session's terminal.
package session

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/cmd/internal/tokencli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/recentids"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/session"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// NewCmdSession returns the `nimbus session` command group.
func NewCmdSession(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "session",
		Short: "Create sessions, build attach URLs and attach to their terminals",
		Example: `  nimbus session new --endpoint https://my-nimbus.workers.dev
  nimbus session url --endpoint https://my-nimbus.workers.dev --session pretty-otter-1234 --tenant acme --sub alice
  nimbus session attach demo`,
	}
	cmdutil.MakeGroup(cmd)
	cmd.AddCommand(newCmdNew(f), newCmdURL(f), newCmdAttach(f))
	return cmd
}

type flags struct {
	endpoint, tokenFile, tenant, sub string
}

func (fl *flags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&fl.endpoint, "endpoint", "", "Worker `URL` (NIMBUS_ENDPOINT)")
	f.StringVar(&fl.tokenFile, "token-file", "", "read the token from `FILE` (\"-\" for stdin; NIMBUS_TOKEN_FILE)")
	f.StringVar(&fl.tenant, "tenant", "", "tenant for a minted token (NIMBUS_TENANT)")
	f.StringVar(&fl.sub, "sub", "", "subject for a minted token (NIMBUS_SUBJECT)")
}

// resolve applies flag > env > config for the shared keys.
func (fl *flags) resolve(f *cmdutil.Factory, cmd *cobra.Command) (string, sandboxcli.Credentials, error) {
	cfg, err := f.LoadConfig()
	if err != nil {
		return "", sandboxcli.Credentials{}, err
	}
	for key, name := range map[string]string{"endpoint": "endpoint", "token_file": "token-file", "tenant": "tenant", "subject": "sub"} {
		if err := cfg.BindFlag(key, cmd.Flags().Lookup(name)); err != nil {
			return "", sandboxcli.Credentials{}, err
		}
	}
	creds := sandboxcli.Credentials{
		TokenFile: cfg.GetString("token_file"), TokenFileFrom: sandboxcli.SettingFrom(cfg, "token_file"), Token: cfg.GetString("token"),
		Secret: f.Getenv("JWT_SECRET"), Tenant: cfg.GetString("tenant"), Subject: cfg.GetString("subject"),
		Now: f.Now, Stdin: f.IOStreams.In,
	}
	ep := cfg.GetString("endpoint")
	creds.Endpoint = ep
	if ep == "" {
		return "", creds, clierr.New(exitcode.Config, clierr.CodeConfigMissing, "no Nimbus endpoint configured", "pass --endpoint URL or set NIMBUS_ENDPOINT")
	}
	return ep, creds, nil
}

// site resolves the settings as resolve does and returns where the
// command's sandboxes are (the Worker, the remote API base path the
// sandbox commands would use with these settings, and the owner of the
// tokens), for the file of recently used sandboxes, with the tokens and
// the credentials resolved (whose tenant and subject the hints name).
func (fl *flags) site(f *cmdutil.Factory, cmd *cobra.Command, pin bool, scopes ...string) (*recentids.Site, sandboxclient.TokenSource, sandboxcli.Credentials, error) {
	ep, creds, err := fl.resolve(f, cmd)
	if err != nil {
		return nil, nil, creds, err
	}
	ts, err := creds.TokenSource(pin, scopes...)
	if err != nil {
		return nil, nil, creds, err
	}
	cfg, err := f.LoadConfig()
	if err != nil {
		return nil, nil, creds, err
	}
	return &recentids.Site{Endpoint: ep, BasePath: cfg.GetString("base_path"), Owner: creds.Owner(ts)}, ts, creds, nil
}

func newCmdNew(f *cmdutil.Factory) *cobra.Command {
	var fl flags
	cmd := &cobra.Command{
		Use:   "new [--endpoint URL]",
		Short: "Create a browser session and print {sessionId, url}",
		Example: `  nimbus session new --endpoint https://my-nimbus.workers.dev
  NIMBUS_TOKEN=$(nimbus token mint --tenant acme --scopes session:create) nimbus session new --json`,
		Long: `POST /new on the Worker without following its redirect, and print
{"sessionId","url"} as upstream does. The URL may carry a single-use bootstrap
token valid for 90 seconds. The token needs session:create; a minted one gets
exactly that scope.`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			site, ts, creds, err := fl.site(f, cmd, false, token.ScopeSessionCreate)
			if err != nil {
				return err
			}
			cfg, err := f.LoadConfig()
			if err != nil {
				return err
			}
			timeout, err := sandboxcli.HTTPTimeout(cfg)
			if err != nil {
				return err
			}
			c, err := sandboxclient.New(sandboxclient.Options{Endpoint: site.Endpoint, Tokens: ts, HTTPClient: f.HTTPClient(), HTTPTimeout: timeout, UserAgent: "nimbus-cli"})
			if err != nil {
				return sandboxcli.Error(err)
			}
			s, err := c.CreateSession(cmd.Context())
			if err != nil {
				// The token it needs has session:create, and no pin.
				return sandboxcli.Hints{Tenant: creds.Tenant, Subject: creds.Subject, Scopes: []string{token.ScopeSessionCreate}, Unpinned: true}.WithToken(ts).Error(err)
			}
			// The id is the Worker's answer, for this token's owner (the
			// bootstrap token carries its tenant and subject): the
			// sandbox the user asked for, which its first request makes.
			sandboxcli.RememberSandbox(f, *site, s.SessionID)
			return f.PrintJSON(s)
		},
	}
	fl.add(cmd)
	return cmd
}

func newCmdURL(f *cmdutil.Factory) *cobra.Command {
	var fl flags
	var id string
	mf := tokencli.MintFlags{Default: []string{token.ScopeSessionAttach}}
	cmd := &cobra.Command{
		Use:   "url [--endpoint URL] [--session ID] [--token-file F | --tenant T [--sub S] [--ttl 15m] [--scopes session:attach]]",
		Short: "Print a browser attach URL for a session",
		Example: `  nimbus session url --endpoint https://my-nimbus.workers.dev --session pretty-otter-1234 --tenant acme --sub alice
  nimbus session url --endpoint https://my-nimbus.workers.dev --token-file attach.tok --session demo --json`,
		Long: `Print the URL that opens session ID in a browser (/s/<ID>/?nimbus_token=…),
or /new?nimbus_token=… without --session. The token comes from --token-file or
NIMBUS_TOKEN, or is minted with JWT_SECRET: scope session:attach (or --scopes),
pinned to --session, default lifetime 1h. --tenant, --sub, --ttl, --scopes and
--full-trust ask for a minted token, so with any of them it is minted even when
NIMBUS_TOKEN is set. The URL contains the token: treat it as a secret.`,
		Args: func(cmd *cobra.Command, args []string) error {
			// 'session attach ID' takes the id as an argument; here it
			// is --session, and the hint says so rather than --help.
			if len(args) == 1 && !cmd.Flags().Changed("session") && sandboxclient.ValidID(args[0]) {
				return clierr.Usagef("unexpected argument %q; the session is given with --session", args[0]).
					WithHint("nimbus session url --session " + args[0])
			}
			return cmdutil.NoArgs(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ep, creds, err := fl.resolve(f, cmd)
			if err != nil {
				return err
			}
			if id != "" && !sandboxclient.ValidID(id) {
				return clierr.Usagef("--session %q: use 1 to 128 characters from A-Z a-z 0-9 . _ -", id)
			}
			// A flag that shapes a minted token asks for one: the URL goes
			// to a browser, often someone else's, and the token of the
			// environment in its place would carry whatever that token may
			// do, unpinned, where the flags asked for a pinned one.
			minting := ""
			for _, name := range []string{"tenant", "sub", "ttl", "scopes", "full-trust"} {
				if cmd.Flags().Changed(name) {
					minting = "--" + name
					break
				}
			}
			if minting != "" && cmd.Flags().Changed("token-file") {
				return clierr.Usagef("--token-file and %s cannot be combined: the URL carries the file's token or a minted one", minting)
			}
			given := creds.TokenFile != "" || creds.Token != ""
			var tok string
			if given && minting == "" {
				ts, err := creds.TokenSource(false)
				if err != nil {
					return err
				}
				if tok, err = ts.Token(cmd.Context(), id); err != nil {
					return err
				}
			} else {
				if creds.Secret == "" && given {
					return clierr.New(exitcode.Config, sandboxcli.CodeNoCredential, minting+" asks for a minted token, which needs JWT_SECRET",
						"export JWT_SECRET, or leave out "+minting+" to put the token of NIMBUS_TOKEN (or NIMBUS_TOKEN_FILE) in the URL")
				}
				if creds.Secret == "" {
					return clierr.New(exitcode.Config, sandboxcli.CodeNoCredential, "no credential for the attach URL", "pass --token-file FILE, set NIMBUS_TOKEN, or export JWT_SECRET with --tenant to mint one")
				}
				if creds.Tenant == "" {
					return clierr.Usagef("--tenant required to mint a token").WithHint("pass --tenant T (or set NIMBUS_TENANT)")
				}
				in := token.Input{Tenant: &creds.Tenant}
				if err := mf.Apply(&in); err != nil {
					return err
				}
				for _, w := range mf.ScopeWarnings() {
					f.Warn(w)
				}
				f.Warn(tokencli.WeakSecretWarning(creds.Secret))
				if creds.Subject != "" {
					in.Subject = &creds.Subject
				}
				if id != "" {
					in.SessionID = &id
				}
				a, err := session.MintAndAttach(token.Issuer{Secret: creds.Secret, Now: f.Now}, in, ep, id)
				if errors.Is(err, session.ErrInvalidEndpoint) {
					return clierr.Usagef("--endpoint %q: %v", sandboxclient.RedactEndpoint(ep), err)
				}
				if err != nil {
					return tokencli.Error(err)
				}
				return printURL(f, id, a.URL)
			}
			u, err := session.AttachURL(ep, id, tok)
			if err != nil {
				return clierr.Usagef("--endpoint %q: %v", sandboxclient.RedactEndpoint(ep), err)
			}
			return printURL(f, id, u)
		},
	}
	fl.add(cmd)
	cmd.Flags().StringVar(&id, "session", "", "session `ID` (omit for /new)")
	mf.Add(cmd.Flags(), "lifetime of a minted token: seconds or a duration such as 15m (default 1h)",
		"scopes of a minted token, comma-separated, repeatable (default session:attach)")
	return cmdutil.Quick(cmd) // builds a URL locally
}

func printURL(f *cmdutil.Factory, id, u string) error {
	if f.JSON {
		return f.PrintJSON(map[string]string{"sessionId": id, "url": u})
	}
	_, err := fmt.Fprintln(f.IOStreams.Out, u)
	return err
}
