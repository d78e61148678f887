// Package sandbox implements `nimbus sandbox …`: driving remote sandboxes
// of a deployed Nimbus Worker (exec, files, cp, runtimes, processes, ports,
// lifecycle). The work is done by pkg/sandboxclient and cmd/internal/sandboxcli.
package sandbox

import (
	"fmt"
	"runtime"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/config"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/recentids"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// Scopes requested when the CLI mints its own token.
var (
	scopesUse     = []string{"sandbox:use"}
	scopesDestroy = []string{"sandbox:use", "session:destroy"}
)

// common holds the connection flags every sandbox command shares.
type common struct {
	f         *cmdutil.Factory
	endpoint  string
	basePath  string
	tokenFile string
	profile   string
	root      string
	tenant    string
	sub       string
	lo        localState
	// writeLimit is --write-limit (NIMBUS_WRITE_LIMIT, write_limit:), as
	// given; writeLimitBytes is it parsed (0: the default).
	writeLimit      string
	writeLimitBytes int64
	// site is where the command's client reaches sandboxes (its Worker
	// and the owner of its tokens), set by client for a remote one;
	// touched are the sandbox ids it opened there (recent.go).
	site    *recentids.Site
	touched []string
	// drainOwner is the owner of destroy --ledger's tokens.
	drainOwner string
	// known is what the command resolved that its failures' hints name
	// (the tenant, subject and scopes of the token to mint), set as it
	// builds its client.
	known sandboxcli.Hints
}

// hints is what the hints of a failure in sandbox id name: the sandbox
// and what the command resolved (o.known).
func (o *common) hints(id string) sandboxcli.Hints {
	h := o.known
	h.ID = id
	return h
}

// errorIn maps a failure in sandbox id (sandboxcli.Hints.Error).
func (o *common) errorIn(id string, err error) error { return o.hints(id).Error(err) }

// execErrorIn maps a failure of exec-like commands in sandbox id, which
// exit 125 (sandboxcli.Hints.ExecError).
func (o *common) execErrorIn(id string, err error) error { return o.hints(id).ExecError(err) }

// readError maps a failure to read path, a resolved sandbox path, in
// sandbox id: a missing path's hint lists its directory.
func (o *common) readError(id, path string, err error) error {
	h := o.hints(id)
	h.Read = path
	return h.Error(err)
}

// NewCmdSandbox returns the `nimbus sandbox` command group.
func NewCmdSandbox(f *cmdutil.Factory) *cobra.Command {
	o := &common{f: f}
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Drive remote sandboxes of a deployed Nimbus Worker",
		Long: `Drive remote sandboxes of a deployed Nimbus Worker over its remote API
(POST <endpoint><base-path>/sandboxes/<id>/rpc). A sandbox exists as soon as a
command touches its id.

Credentials, in order: --token-file FILE, NIMBUS_TOKEN (or token: in the config
file); otherwise, with JWT_SECRET and a tenant (--tenant/NIMBUS_TENANT), nimbus
mints a 15-minute token pinned to the sandbox id with only the scopes the
command needs (sandbox:use, plus session:destroy for destroy and
session:attach for forward).

To work inside a sandbox by hand: shell (a line-mode shell), attach (to a
background process), forward (local ports to sandbox ports) and apps.`,
		Example: `  nimbus sandbox exec --local demo -- echo hello
  nimbus sandbox run --upload . --download junit.xml -- make test
  nimbus sandbox cp -r ./app job-123:/home/user/app
  nimbus sandbox exec job-123 -- make test
  nimbus sandbox shell job-123
  nimbus sandbox destroy job-123`,
	}
	cmdutil.MakeGroup(cmd)
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.endpoint, "endpoint", "", "Worker `URL` (NIMBUS_ENDPOINT)")
	pf.StringVar(&o.basePath, "base-path", "", "remote API base path (NIMBUS_BASE_PATH, default /api/nimbus/v1)")
	pf.StringVar(&o.tokenFile, "token-file", "", "read the bearer token from `FILE` (\"-\" for stdin; NIMBUS_TOKEN_FILE)")
	pf.StringVar(&o.profile, "profile", "", "sandbox profile name (NIMBUS_PROFILE, default \"default\")")
	pf.StringVar(&o.root, "root", sandboxclient.DefaultRoot, "sandbox root: the default working directory")
	pf.StringVar(&o.tenant, "tenant", "", "tenant for auto-minted tokens (NIMBUS_TENANT)")
	pf.StringVar(&o.sub, "sub", "", "subject for auto-minted tokens (NIMBUS_SUBJECT)")
	pf.StringVar(&o.writeLimit, "write-limit", "", "largest single write request, e.g. 20MiB; bigger files are split (NIMBUS_WRITE_LIMIT, default 20MiB)")
	cmd.AddCommand(
		newCmdExec(o), newCmdRunCode(o), newCmdFiles(o), newCmdCp(o), newCmdSync(o), newCmdRun(o), newCmdRuntimes(o),
		newCmdPs(o), newCmdLogs(o), newCmdKill(o), newCmdStart(o), newCmdPorts(o),
		newCmdReady(o), newCmdDestroy(o),
		newCmdShell(o), newCmdForward(o), newCmdApps(o), newCmdAttach(o),
	)
	// The one check of --root, for every command of the group: cobra
	// runs only the nearest PersistentPreRunE, so no command under it
	// may define one (TestEverySandboxCommandChecksRoot).
	cmd.PersistentPreRunE = o.checkRoot
	o.addLocal(cmd)
	eachCommand(cmd, func(c *cobra.Command) {
		o.closeLocalAfter(c)
		o.rememberAfter(c)
		o.completeSandboxArgs(c)
	})
	return cmd
}

// settings resolves flag > env > config file > default for the shared keys.
type settings struct {
	endpoint, basePath, profile string
	creds                       sandboxcli.Credentials
	httpTimeout                 time.Duration
}

func (o *common) resolve(cmd *cobra.Command) (*settings, error) {
	st, err := (&sandboxcli.Connection{Root: o.root}).Resolve(o.f, cmd)
	if err != nil {
		return nil, err
	}
	if err := o.parseWriteLimit(st.Config); err != nil {
		return nil, err
	}
	if st.Endpoint == "" {
		return nil, clierr.New(exitcode.Config, clierr.CodeConfigMissing, "no Nimbus endpoint configured", "pass --endpoint URL or set NIMBUS_ENDPOINT (e.g. https://my-nimbus.workers.dev)")
	}
	return &settings{endpoint: st.Endpoint, basePath: st.BasePath, profile: st.Profile, creds: st.Creds, httpTimeout: st.HTTPTimeout}, nil
}

// client builds a client whose tokens carry scopes (when minted). suffix
// is the Worker's preview host suffix (--preview-host-suffix), for
// host-style URLs, or "" for path-style ones (or nimbus dev's preview
// hosts, when the endpoint names them: see sandboxclient.Options.
// PreviewHostSuffix); the local backend serves no
// previews and has no use for it. Every client of the group is built here,
// so that --local, the write limit and the connection settings hold for
// each command alike.
func (o *common) client(cmd *cobra.Command, pin bool, scopes []string, suffix string) (*sandboxclient.Client, *settings, error) {
	if o.lo.enabled {
		return o.localClient(cmd, scopes)
	}
	s, err := o.resolve(cmd)
	if err != nil {
		return nil, nil, err
	}
	o.known.Tenant, o.known.Subject, o.known.Scopes = s.creds.Tenant, s.creds.Subject, scopes
	ts, err := s.creds.TokenSource(pin, scopes...)
	if err != nil {
		return nil, nil, err
	}
	o.known = o.known.WithToken(ts)
	c, err := sandboxclient.New(sandboxclient.Options{
		Endpoint: s.endpoint, BasePath: s.basePath, Tokens: ts,
		HTTPClient: o.f.HTTPClient(), HTTPTimeout: s.httpTimeout, UserAgent: "nimbus-cli",
		WriteLimit: o.writeLimitBytes, PreviewHostSuffix: suffix,
	})
	if err != nil {
		return nil, nil, sandboxcli.Error(err)
	}
	o.site = &recentids.Site{Endpoint: s.endpoint, BasePath: s.basePath, Owner: s.creds.Owner(ts)}
	return c, s, nil
}

// parseWriteLimit reads the resolved write limit (sandboxcli.WriteLimit).
func (o *common) parseWriteLimit(cfg *config.Config) error {
	n, err := sandboxcli.WriteLimit(cfg)
	if err != nil {
		return err
	}
	o.writeLimitBytes = n
	return nil
}

// stdinToken is sandboxcli.StdinToken for this command's --token-file;
// the local backend takes no token.
func (o *common) stdinToken() string {
	if o.lo.enabled {
		return ""
	}
	return sandboxcli.StdinToken(o.f, o.tokenFile)
}

// checkRoot is the group's PersistentPreRunE: every command of it that
// runs (each leaf; a group only prints help or refuses an unknown
// command, and is left to do so) refuses a --root that is no absolute
// sandbox path (sandboxcli.RootError) before its RunE does anything.
// Every request body carries the root, so each command checks it before
// it sends anything, whether or not it resolves paths against it. It is
// checked here, once for the whole group, and not where each command
// builds its handle: forward, ports expose and apps with
// --preview-host-suffix, and the ledger drain of destroy each built
// theirs another way, and each needed a check of its own that a new
// command could forget.
func (o *common) checkRoot(cmd *cobra.Command, _ []string) error {
	if cmd.HasSubCommands() {
		return nil
	}
	if err := sandboxcli.RootError(runtime.GOOS, o.root, "give an absolute path such as /home/user (the default); relative paths of the command are resolved against it"); err != nil {
		if passingExit(cmd) {
			return sandboxcli.ExecError(err)
		}
		return err
	}
	return nil
}

// eachCommand calls fn on c and on every command under it.
func eachCommand(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		eachCommand(sub, fn)
	}
}

// passExitAnnotation marks a command that passes a remote exit code
// through, so that nimbus's own failures use exec's 125
// (sandboxcli.ExecError) there too. Its value names the bool flag that
// makes the command pass it through, or is "" when it always does.
const passExitAnnotation = "nimbus/pass-exit"

// passesExit marks cmd with passExitAnnotation (flag: as there) and
// returns it.
func passesExit(cmd *cobra.Command, flag string) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[passExitAnnotation] = flag
	return cmd
}

// passingExit reports whether cmd, as invoked, passes a remote exit code
// through (passesExit).
func passingExit(cmd *cobra.Command) bool {
	flag, ok := cmd.Annotations[passExitAnnotation]
	if !ok || flag == "" {
		return ok
	}
	on, _ := cmd.Flags().GetBool(flag)
	return on
}

// open returns a handle on sandbox id.
func (o *common) open(cmd *cobra.Command, id string, scopes []string) (*sandboxclient.Sandbox, error) {
	return o.openWithSuffix(cmd, id, scopes, "")
}

// openWithSuffix is open with a preview host suffix for URL building
// (client's suffix).
func (o *common) openWithSuffix(cmd *cobra.Command, id string, scopes []string, suffix string) (*sandboxclient.Sandbox, error) {
	c, s, err := o.client(cmd, true, scopes, suffix)
	if err != nil {
		return nil, err
	}
	sb, err := c.Sandbox(id, sandboxclient.SandboxOptions{Profile: s.profile, Root: o.root})
	if err != nil {
		return nil, sandboxcli.Error(err)
	}
	o.touch(id)
	return sb, nil
}

// value prints v as JSON with --json and calls plain otherwise: for
// commands whose answer is one value scripts capture (a pid, a URL).
func (o *common) value(v any, plain func() error) error {
	if o.f.JSON {
		return o.f.PrintJSON(v)
	}
	return plain()
}

// output writes v as JSON when output is for machines and calls human
// otherwise.
func (o *common) output(v any, human func() error) error {
	if o.f.MachineOutput() {
		return o.f.PrintJSON(v)
	}
	return human()
}

// said tells a person at a terminal what a command that changed something
// did: "✓ " and the message on stderr when stderr is a terminal and
// --json is off. Scripts see nothing of it.
func (o *common) said(format string, args ...any) {
	ios := o.f.IOStreams
	if o.f.JSON || !ios.IsStderrTTY() {
		return
	}
	fmt.Fprintf(ios.ErrOut, "%s %s\n", ios.Styles().SuccessIcon(), fmt.Sprintf(format, args...))
}

// flagAlias makes --from another name of the flag --to of fs: exec and
// shell name the same thing (a named shell of the sandbox) --shell-id and
// --shell, and each takes the other's spelling so that a name carried from
// one command to the other works. Help shows --to only.
func flagAlias(fs *pflag.FlagSet, from, to string) {
	prev := fs.GetNormalizeFunc()
	fs.SetNormalizeFunc(func(f *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == from {
			return pflag.NormalizedName(to)
		}
		return prev(f, name)
	})
}
