// Package sandboxcli holds the logic behind `nimbus sandbox …` and
// `nimbus session …` that is not cobra wiring: credential resolution,
// error mapping to exit codes, --env parsing and exec output rendering.
package sandboxcli

import (
	"context"
	"io"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/nimbus-sh/nimbus/cmd/internal/tokencli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/config"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/localhost"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// MintTTL is the lifetime of tokens the CLI mints for itself: long enough
// for a request, short enough that a leaked one is soon useless.
const MintTTL = 15 * time.Minute

// CodeNoCredential is the code of the "no credential at all" error.
const CodeNoCredential = "E_NO_CREDENTIAL"

// NoCredentialHint says every way to provide a credential.
const NoCredentialHint = "pass --token-file FILE, set NIMBUS_TOKEN (or token: in nimbus.yaml), or export JWT_SECRET with --tenant/NIMBUS_TENANT to mint a short-lived token"

// Credentials are the possible token sources, already resolved from flags,
// environment and config by the command (flag > env > file).
type Credentials struct {
	// TokenFile is --token-file ("-" reads stdin).
	TokenFile string
	// TokenFileFrom names the setting TokenFile came from (SettingFrom),
	// so a missing file's error says which one to fix.
	TokenFileFrom string
	// Token is NIMBUS_TOKEN or the config's token.
	Token string
	// Secret is JWT_SECRET, used only when no token is given.
	Secret string
	// Tenant and Subject are the minted token's tn and sub.
	Tenant, Subject string
	// Now is the clock used for minting.
	Now func() time.Time
	// Stdin is read when TokenFile is "-".
	Stdin io.Reader
	// Endpoint is where the token goes; on this machine (nimbus dev) the
	// missing-credential hint adds the dev token.
	Endpoint string
}

// SettingFrom names the setting key's value came from as the user would
// fix it: the flag ("--token-file"), the variable ("NIMBUS_TOKEN_FILE") or
// the key in the config file that set it.
func SettingFrom(cfg *config.Config, key string) string {
	src := cfg.Source(key)
	if strings.HasPrefix(src, "--") || src == config.EnvName(key) {
		return src
	}
	return key + " in " + src
}

// StdinToken says how the token file was set to "-" (standard input):
// "--token-file -", "NIMBUS_TOKEN_FILE=-" or the config key, or "" when
// the token does not come from standard input. flag is the --token-file
// flag's value; the rest is resolved as the connection resolves it (flag,
// then NIMBUS_TOKEN_FILE, then token_file in a config file). A command
// whose own input is standard input refuses that pair, wherever the "-"
// came from: the token would take the input (and a file be written empty).
func StdinToken(f *cmdutil.Factory, flag string) string {
	switch {
	case flag != "":
		if flag == "-" {
			return "--token-file -"
		}
		return ""
	case f.Getenv("NIMBUS_TOKEN_FILE") != "":
		if f.Getenv("NIMBUS_TOKEN_FILE") == "-" {
			return "NIMBUS_TOKEN_FILE=-"
		}
		return ""
	}
	cfg, err := f.LoadConfig()
	if err != nil || cfg.GetString("token_file") != "-" {
		return "" // a broken config is reported when the command connects
	}
	return SettingFrom(cfg, "token_file") + " (-)"
}

// TokenSource returns where requests get their bearer token: a token file,
// then a token, then tokens minted with Secret. Minted tokens carry only
// scopes, are pinned (sid) to the sandbox of each request when pin is true,
// and live MintTTL. Without any source it fails with exit 78.
func (c Credentials) TokenSource(pin bool, scopes ...string) (sc.TokenSource, error) {
	if c.TokenFile != "" {
		tok, err := cmdutil.ReadSecretFileFrom(c.TokenFile, "token file", c.TokenFileFrom, c.Stdin)
		if err != nil {
			return nil, err
		}
		if tok == "" {
			return nil, clierr.New(exitcode.Config, CodeNoCredential, "token file "+c.TokenFile+" is empty", NoCredentialHint)
		}
		return sc.StaticToken(tok), nil
	}
	if c.Token != "" {
		// A CI secret often ends with a line break, or starts with a
		// byte order mark: trimmed, as a token file is. A token never
		// holds a space or a control character, so what is left must
		// not either (refused before anything is sent, the token never
		// quoted).
		tok := token.Trim(c.Token)
		if tok == "" || strings.ContainsFunc(tok, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
			return nil, clierr.New(exitcode.Config, sc.CodeInvalidToken, "the token in NIMBUS_TOKEN (or token: in the config file) is not one token: it holds a space, a line break or a control character",
				"set it to the token alone (a line break at the end is fine)")
		}
		return sc.StaticToken(tok), nil
	}
	if c.Secret == "" {
		return nil, clierr.New(exitcode.Config, CodeNoCredential, "no credential for the Nimbus Worker", noCredentialHint(c.Endpoint))
	}
	if c.Tenant == "" {
		return nil, clierr.New(exitcode.Config, clierr.CodeConfigMissing, "minting a token with JWT_SECRET needs a tenant", "pass --tenant T or set NIMBUS_TENANT (and optionally --sub/NIMBUS_SUBJECT)")
	}
	tenant, subject := c.Tenant, c.Subject
	issuer := token.Issuer{Secret: c.Secret, Now: c.Now}
	return sc.TokenFunc(func(_ context.Context, sandboxID string) (string, error) {
		ttl := MintTTL
		in := token.Input{Tenant: &tenant, Scopes: scopes, TTL: &ttl}
		if subject != "" {
			in.Subject = &subject
		}
		if pin && sandboxID != "" {
			in.SessionID = &sandboxID
		}
		tok, err := issuer.Mint(in)
		if err != nil {
			return "", tokencli.Error(err)
		}
		return tok, nil
	}), nil
}

// noCredentialHint is NoCredentialHint, plus nimbus dev's token when the
// endpoint is on this machine: the README's local loop leaves out
// NIMBUS_TOKEN more often than a Worker's setup does.
func noCredentialHint(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return NoCredentialHint
	}
	if !localhost.Is(u.Hostname()) {
		return NoCredentialHint
	}
	return NoCredentialHint + "; for nimbus dev: export NIMBUS_TOKEN=$(nimbus dev token)"
}
