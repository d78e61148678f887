package sandboxcli

import (
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/config"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

// Connection holds the flags of commands that reach a Worker's remote API
// outside the `sandbox` group (mcp, doctor). Their names, meaning and
// precedence are those of `nimbus sandbox`.
type Connection struct {
	Endpoint, BasePath, TokenFile, Profile, Root, Tenant, Subject string
}

// AddFlags registers the connection flags on fs.
func (c *Connection) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.Endpoint, "endpoint", "", "Worker `URL` (NIMBUS_ENDPOINT)")
	fs.StringVar(&c.BasePath, "base-path", "", "remote API base path (NIMBUS_BASE_PATH, default /api/nimbus/v1)")
	fs.StringVar(&c.TokenFile, "token-file", "", "read the bearer token from `FILE` (NIMBUS_TOKEN_FILE)")
	fs.StringVar(&c.Profile, "profile", "", "sandbox profile name (NIMBUS_PROFILE, default \"default\")")
	fs.StringVar(&c.Root, "root", sandboxclient.DefaultRoot, "sandbox root: the default working directory")
	fs.StringVar(&c.Tenant, "tenant", "", "tenant for auto-minted tokens (NIMBUS_TENANT)")
	fs.StringVar(&c.Subject, "sub", "", "subject for auto-minted tokens (NIMBUS_SUBJECT)")
}

// Settings are resolved connection settings.
type Settings struct {
	Endpoint, BasePath, Profile, Root string
	Creds                             Credentials
	// HTTPTimeout is NIMBUS_HTTP_TIMEOUT (http_timeout) for the client.
	HTTPTimeout time.Duration
	// Config is the loaded configuration, with the command's flags bound,
	// for the keys only some commands read (write_limit).
	Config *config.Config
}

// Resolve applies flag > environment > config file > default to the
// connection keys. An empty Endpoint is left for the caller to judge. A
// malformed http_timeout is returned with the other settings, which doctor
// still checks (an endpoint from a config file is no less configured).
func (c *Connection) Resolve(f *cmdutil.Factory, cmd *cobra.Command) (*Settings, error) {
	cfg, err := f.LoadConfig()
	if err != nil {
		return nil, err
	}
	for key, flag := range map[string]string{"endpoint": "endpoint", "base_path": "base-path", "token_file": "token-file", "profile": "profile", "tenant": "tenant", "subject": "sub", "write_limit": "write-limit"} {
		if fl := cmd.Flags().Lookup(flag); fl != nil {
			if err := cfg.BindFlag(key, fl); err != nil {
				return nil, err
			}
		}
	}
	timeout, terr := HTTPTimeout(cfg)
	return &Settings{
		HTTPTimeout: timeout,
		Config:      cfg,
		Endpoint:    cfg.GetString("endpoint"),
		BasePath:    cfg.GetString("base_path"),
		Profile:     cfg.GetString("profile"),
		Root:        c.Root,
		Creds: Credentials{
			TokenFile:     cfg.GetString("token_file"),
			TokenFileFrom: SettingFrom(cfg, "token_file"),
			Token:         cfg.GetString("token"),
			Secret:        f.Getenv("JWT_SECRET"),
			Tenant:        cfg.GetString("tenant"),
			Subject:       cfg.GetString("subject"),
			Now:           f.Now,
			Stdin:         f.IOStreams.In,
			Endpoint:      cfg.GetString("endpoint"),
		},
	}, terr
}

// RootError refuses root, a --root typed on goos (runtime.GOOS), that is
// no absolute sandbox path, as a usage error (64); nil when it is one.
// Relative paths are resolved against the root, so a relative one was
// silently taken from "/" ("--root app" read /app/x). On Windows a root
// is also checked as a cp target is (transfer.SandboxPathProblem): Git
// Bash makes "C:/Program Files/Git/home/user" of /home/user, and
// "/home/user\app" would reach the sandbox with a '\' in a name.
func RootError(goos, root, hint string) error {
	if problem := transfer.SandboxPathProblem(goos, root); problem != "" {
		return clierr.Usagef("--root %q: %s", root, problem).
			WithHint("give a sandbox path such as /home/user (the default); under Git Bash, run with MSYS_NO_PATHCONV=1 so it is passed as typed")
	}
	if !strings.HasPrefix(root, "/") {
		return clierr.Usagef("--root %q is not an absolute sandbox path", root).WithHint(hint)
	}
	return nil
}
