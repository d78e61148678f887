// Package doctorcli is the command-side wiring of `nimbus doctor`: it finds
// the settings and credentials the other commands would use (and where
// each comes from), builds a pkg/doctor Doctor from them and renders the
// report.
package doctorcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/runtimecli"
	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/buildinfo"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/config"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/hostpath"
	"github.com/nimbus-sh/nimbus/internal/paths"
	"github.com/nimbus-sh/nimbus/internal/regularfile"
	"github.com/nimbus-sh/nimbus/internal/style"
	"github.com/nimbus-sh/nimbus/pkg/doctor"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// ReleasesEnv overrides the release endpoint (a mirror, or a test's fake);
// it answers like GitHub's latest-release API.
const ReleasesEnv = "NIMBUS_RELEASES_URL"

// Options are nimbus doctor's flags.
type Options struct {
	Conn           sandboxcli.Connection
	APITokenFile   string
	AccountID      string
	WranglerConfig string
	// WranglerEnv is --env: the wrangler environment the project checks
	// look at.
	WranglerEnv    string
	NoVersionCheck bool
	Timeout        time.Duration
}

// Build assembles the Doctor from flags, environment and config files.
func Build(f *cmdutil.Factory, cmd *cobra.Command, o *Options) (*doctor.Doctor, error) {
	dir, err := os.Getwd()
	if err != nil {
		return nil, clierr.Wrap(err, exitcode.Software, clierr.CodeIO, "cannot read the working directory", "")
	}
	if err := f.EmptyConfigError(); err != nil {
		return nil, err
	}
	// A --config file that does not exist is refused as every command
	// that reads the configuration refuses it (78, E_CONFIG_INVALID, the
	// same message and hint), not reported as a failed check: like a
	// missing --wrangler-config, the file named is not there to check. A
	// named file that exists but cannot be used is the config check's.
	if f.ConfigFile != "" {
		if _, err := os.Stat(f.ConfigFile); errors.Is(err, fs.ErrNotExist) {
			if _, err := f.LoadConfig(); err != nil {
				return nil, err
			}
		}
	}
	// A wrangler config named on the command line that names no file is
	// refused before anything is read or checked, as setup --config and
	// runtime sync --write-config refuse it: the project checks would
	// otherwise skip as in a directory without a project, and pass a
	// check that was never made. The default ./wrangler.jsonc may be
	// absent (no project); a file that exists but cannot be read is the
	// wrangler check's to report.
	if o.WranglerConfig != "" {
		if _, err := os.Stat(hostpath.Join(runtime.GOOS, dir, o.WranglerConfig)); errors.Is(err, fs.ErrNotExist) {
			return nil, clierr.Configf("check the --wrangler-config path (it is read from the working directory), or run 'nimbus init' first",
				"wrangler config %s does not exist", o.WranglerConfig)
		}
	}
	d := &doctor.Doctor{
		Now: f.Now, HTTPClient: f.HTTPClient(), Timeout: o.Timeout,
		Version:   buildinfo.Get().Version,
		KnownKeys: knownKeys(),
	}
	if !o.NoVersionCheck {
		d.ReleaseURL = doctor.DefaultReleaseURL
		if u := f.Getenv(ReleasesEnv); u != "" {
			d.ReleaseURL = u
		}
	}

	user, err := f.Paths().ConfigDir()
	if err != nil && !errors.Is(err, paths.ErrNoConfigDir) && f.ConfigFile == "" {
		d.UserConfigErr = err // as LoadConfig refuses it
	}
	files := config.Inspect(config.Options{File: f.ConfigFile, Dir: dir, UserConfigDir: user, Getenv: f.Getenv})
	for _, fi := range files {
		cf := doctor.ConfigFile{Path: rel(dir, fi.Path), Keys: fi.Keys, Err: fi.Err}
		if fi.Err != nil {
			// The hint the other commands give for this file.
			cf.Hint = cmdutil.ConfigHint(fi.Err, f.ConfigFile != "")
		}
		for _, u := range fi.Unknown {
			cf.Unknown = append(cf.Unknown, doctor.UnknownKey{Key: u.Key, Suggestion: u.Suggestion})
		}
		d.ConfigFiles = append(d.ConfigFiles, cf)
	}
	// fromFile names the file a key comes from (the last one wins).
	fromFile := func(key string) string {
		src := ""
		for _, fi := range files {
			for _, k := range fi.Keys {
				if k == key {
					src = rel(dir, fi.Path)
				}
			}
		}
		return src
	}

	// The settings the sandbox commands would use. A broken config file is
	// reported by the config check; the rest still runs on flags and
	// environment.
	st, err := o.Conn.Resolve(f, cmd)
	switch {
	case err == nil:
		// The sandbox commands that write check write_limit as they start.
		_, err = sandboxcli.WriteLimit(st.Config)
	case st == nil:
		st = fallbackSettings(f, cmd, &o.Conn)
	}
	if err == nil {
		// runtime sync and setup check runtime_cache_keep as they start.
		_, err = runtimecli.CacheKeep(f, nil)
	}
	if err != nil {
		if !brokenFile(d.ConfigFiles) {
			// Settings commands refuse (a malformed NIMBUS_HTTP_TIMEOUT,
			// say): the config check says so.
			d.SettingsErr = err
			var ce *clierr.Error
			if errors.As(err, &ce) {
				d.SettingsHint = ce.Hint
			}
		}
	}
	d.Endpoint, d.BasePath = st.Endpoint, st.BasePath
	d.Tenant, d.Subject, d.Secret = st.Creds.Tenant, st.Creds.Subject, st.Creds.Secret

	// source says where a setting came from, in the precedence order the
	// sandbox commands apply.
	source := func(flag, env, key string) string {
		switch {
		case flag != "" && cmd.Flags().Changed(flag):
			return "--" + flag
		case env != "" && f.Getenv(env) != "":
			return "environment"
		case key != "" && fromFile(key) != "":
			return key + ": in " + fromFile(key)
		}
		return "default"
	}
	// Two tokens cannot both come from one standard input: the second
	// read would find it empty and report a missing token that was given.
	if st.Creds.TokenFile == "-" && o.APITokenFile == "-" {
		from := st.Creds.TokenFileFrom
		if from == "" { // a broken config file: flag or environment
			from = "--token-file or NIMBUS_TOKEN_FILE"
		}
		e := clierr.Usagef("the bearer token file (%s) and --api-token-file cannot both be - (standard input)", from)
		e.Hint = "pipe one of them and give the other as a file, or CLOUDFLARE_API_TOKEN / NIMBUS_TOKEN in the environment"
		return nil, e
	}
	switch {
	case st.Creds.TokenFile != "":
		from := source("token-file", "NIMBUS_TOKEN_FILE", "token_file")
		if from == "environment" {
			from = "NIMBUS_TOKEN_FILE"
		}
		c := doctor.Credential{Name: doctor.CredTokenFile, Source: from + " " + st.Creds.TokenFile}
		var tok string
		c.Hint, c.Err = stdinTerminal(f, st.Creds.TokenFile, "--token-file FILE or NIMBUS_TOKEN")
		if c.Err == nil {
			tok, c.Err = cmdutil.ReadSecretFile(st.Creds.TokenFile, f.IOStreams.In)
		}
		switch {
		case c.Err != nil:
		case tok == "":
			c.Err = fmt.Errorf("the file is empty")
		default:
			d.Token, d.TokenSource = tok, st.Creds.TokenFile
		}
		d.Credentials = append(d.Credentials, c)
	case st.Creds.Token != "":
		from := source("", "NIMBUS_TOKEN", "token")
		// What the client sends (token.Trim, as Credentials.TokenSource).
		d.Token, d.TokenSource = token.Trim(st.Creds.Token), from
		d.Credentials = append(d.Credentials, doctor.Credential{Name: doctor.CredToken, Source: from})
	}
	if st.Creds.Secret != "" {
		d.Credentials = append(d.Credentials, doctor.Credential{Name: doctor.CredSecret, Source: "environment"})
	}

	// Cloudflare, for the project checks.
	cfSource := ""
	cfToken := ""
	if o.APITokenFile != "" {
		cfSource = "--api-token-file " + o.APITokenFile
	} else if f.Getenv("CLOUDFLARE_API_TOKEN") != "" {
		cfSource = "environment"
	}
	if cfSource != "" {
		c := doctor.Credential{Name: doctor.CredCloudflare, Source: cfSource}
		c.Hint, c.Err = stdinTerminal(f, o.APITokenFile, "--api-token-file FILE or CLOUDFLARE_API_TOKEN")
		if c.Err == nil {
			cfToken, c.Err = runtimecli.APIToken(f, o.APITokenFile)
		}
		d.Credentials = append(d.Credentials, c)
	}
	if cfToken != "" {
		client, err := runtimecli.CloudflareClient(f, cfToken)
		if err != nil {
			return nil, err
		}
		d.Cloudflare = client
		d.AccountID = o.AccountID
		if d.AccountID == "" {
			d.AccountID = f.Getenv("CLOUDFLARE_ACCOUNT_ID")
		}
	}

	// regularfile.DirFS: opening a named pipe there must not block.
	d.Project, d.WranglerFile, d.WranglerEnv = regularfile.DirFS(dir), "wrangler.jsonc", o.WranglerEnv
	if o.WranglerConfig != "" {
		// Read from the project directory; hostpath.Join, since on
		// Windows "C:x" and "\x" are not relative to it.
		p := hostpath.Join(runtime.GOOS, dir, o.WranglerConfig)
		d.Project, d.WranglerFile = regularfile.DirFS(filepath.Dir(p)), filepath.Base(p)
	}
	return d, nil
}

// stdinTerminal refuses a token file of "-" when standard input is a
// terminal: the other commands then ask for the token, but doctor is run
// to find out what is wrong, often from a terminal where "-" was left in
// NIMBUS_TOKEN_FILE or a script's flags, and it must report, not stop at a
// prompt. A pipe is read, as the other commands read it. others names the
// sources to use instead.
func stdinTerminal(f *cmdutil.Factory, file, others string) (hint string, err error) {
	if file != "-" || !f.IOStreams.IsStdinTTY() {
		return "", nil
	}
	return "pipe the token in (nimbus doctor ... < FILE), or use " + others,
		errors.New("standard input is a terminal; doctor does not ask for a token")
}

// brokenFile says whether one of the config files could not be read,
// which the config check reports as such.
func brokenFile(files []doctor.ConfigFile) bool {
	for _, f := range files {
		if f.Err != nil {
			return true
		}
	}
	return false
}

// fallbackSettings resolves the connection from flags and environment
// only, for when a config file cannot be parsed.
func fallbackSettings(f *cmdutil.Factory, cmd *cobra.Command, c *sandboxcli.Connection) *sandboxcli.Settings {
	pick := func(flag, val, env string) string {
		if cmd.Flags().Changed(flag) {
			return val
		}
		return f.Getenv(env)
	}
	return &sandboxcli.Settings{
		Endpoint: pick("endpoint", c.Endpoint, "NIMBUS_ENDPOINT"),
		BasePath: pick("base-path", c.BasePath, "NIMBUS_BASE_PATH"),
		Root:     c.Root,
		Creds: sandboxcli.Credentials{
			TokenFile: pick("token-file", c.TokenFile, "NIMBUS_TOKEN_FILE"),
			Token:     f.Getenv("NIMBUS_TOKEN"),
			Secret:    f.Getenv("JWT_SECRET"),
			Tenant:    pick("tenant", c.Tenant, "NIMBUS_TENANT"),
			Subject:   pick("sub", c.Subject, "NIMBUS_SUBJECT"),
		},
	}
}

// rel shortens paths under the working directory for display.
func rel(dir, p string) string {
	if r, err := filepath.Rel(dir, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// interruptGrace is how long an interrupted doctor waits for its checks
// to see the cancellation and report what they found before it exits
// without them.
const interruptGrace = 2 * time.Second

// BuildAndRun builds the Doctor and runs it, and returns as soon as ctx is
// cancelled (Ctrl-C, SIGTERM) even when a file read is blocked where no
// context reaches it: a named pipe given as --token-file whose writer
// sends nothing, a hung network file system. The checks that heed ctx
// (the network ones) stop at once and the partial report is printed; a
// read that does not is left behind, since doctor has nothing to clean
// up, and the command exits 130 (143 for SIGTERM) within interruptGrace.
func BuildAndRun(ctx context.Context, f *cmdutil.Factory, cmd *cobra.Command, o *Options) error {
	done := make(chan error, 1)
	go func() {
		d, err := Build(f, cmd, o)
		if err == nil {
			err = Run(ctx, f, d)
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	t := time.NewTimer(interruptGrace)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return clierr.Wrap(ctx.Err(), exitcode.Interrupted, "E_INTERRUPTED", "interrupted", "")
	}
}

// Run runs the checks, printing them as they finish on a terminal and the
// report as JSON for machines. A failing check makes the command exit 1.
func Run(ctx context.Context, f *cmdutil.Factory, d *doctor.Doctor) error {
	ios := f.IOStreams
	machine := f.MachineOutput()
	if !machine {
		d.OnCheck = func(c doctor.Check) { printCheck(ios.Out, ios.Styles(), c) }
	}
	r := d.Run(ctx)
	if machine {
		if err := f.PrintJSON(r); err != nil {
			return err
		}
	} else {
		printSummary(ios.Out, r)
	}
	if ctx.Err() != nil {
		return clierr.Wrap(ctx.Err(), exitcode.Interrupted, "E_INTERRUPTED", "interrupted", "")
	}
	if !r.OK {
		return clierr.Status(exitcode.Failure)
	}
	return nil
}

func printCheck(w io.Writer, st *style.Styles, c doctor.Check) {
	icon := st.SuccessIcon()
	switch c.Status {
	case doctor.Warn:
		icon = st.WarningIcon()
	case doctor.Fail:
		icon = st.FailureIcon()
	case doctor.Skip:
		icon = st.Muted("-")
	}
	detail := c.Detail
	if c.Status == doctor.Skip {
		detail = st.Muted(detail)
	}
	fmt.Fprintf(w, "%s %-16s %s\n", icon, c.Name, detail)
	if c.Hint != "" {
		fmt.Fprintf(w, "  %s %s %s\n", strings.Repeat(" ", 16), st.Bold("hint:"), c.Hint)
	}
}

func printSummary(w io.Writer, r *doctor.Report) {
	n := map[doctor.Status]int{}
	for _, c := range r.Checks {
		n[c.Status]++
	}
	warnings := "warnings"
	if n[doctor.Warn] == 1 {
		warnings = "warning"
	}
	fmt.Fprintf(w, "\n%d passed, %d %s, %d failed, %d skipped\n", n[doctor.Pass], n[doctor.Warn], warnings, n[doctor.Fail], n[doctor.Skip])
}

func knownKeys() []string {
	names := make([]string, len(config.Keys))
	for i, k := range config.Keys {
		names[i] = k.Name
	}
	return names
}
