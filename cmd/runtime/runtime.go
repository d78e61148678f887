// Package runtimecmd wires `nimbus runtime sync` and `nimbus runtime list`:
// flags, credentials, wrangler.jsonc defaults and output. The publishing
// itself lives in pkg/runtimesync.
package runtimecmd

import (
	"errors"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/runtimecli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/regularfile"
	"github.com/nimbus-sh/nimbus/pkg/provision"
	"github.com/nimbus-sh/nimbus/pkg/scaffold"
	"github.com/nimbus-sh/nimbus/pkg/wranglerfile"
)

// defaultWranglerConfig supplies the account, the runtime bucket and the
// pin when it exists.
const defaultWranglerConfig = "wrangler.jsonc"

// NewCmdRuntime returns the `runtime` group.
func NewCmdRuntime(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runtime",
		Short: "Publish the language runtimes (clang, CPython, bash) into R2 and pin them",
		Long: `Sandboxes install language runtimes (clang, CPython, bash) from the R2 bucket
the Worker binds as NIMBUS_RUNTIME_CACHE, and trust only the catalog whose
SHA-256 the Worker is configured with (NIMBUS_RUNTIME_CATALOG_SHA256).
'runtime sync' publishes the runtimes and prints that digest; 'runtime list'
reads the catalog back.`,
		Example: `  nimbus runtime sync --dry-run
  nimbus runtime sync --write-config
  nimbus runtime list`,
	}
	cmdutil.MakeGroup(cmd)
	cmd.AddCommand(newCmdSync(f), newCmdList(f))
	return cmd
}

// cfFlags are the Cloudflare flags both subcommands take.
type cfFlags struct {
	bucket, accountID, apiTokenFile string
	// env is --env: the wrangler environment whose bucket, account and
	// pin apply (provision.WranglerEnvironment, as setup reads it).
	env string
}

func (c *cfFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&c.bucket, "bucket", "", "runtime `BUCKET` (default: the NIMBUS_RUNTIME_CACHE bucket of ./wrangler.jsonc, else "+runtimecli.DefaultBucket+")")
	fl.StringVar(&c.accountID, "account-id", "", "Cloudflare account `ID` (default: CLOUDFLARE_ACCOUNT_ID, account_id in wrangler.jsonc, or the token's only account)")
	fl.StringVar(&c.apiTokenFile, "api-token-file", "", "read the Cloudflare API token from `FILE` (- for stdin) instead of CLOUDFLARE_API_TOKEN")
	fl.StringVar(&c.env, "env", "", "wrangler environment `NAME`: read the bucket, account and pin of env.NAME of the wrangler config, as 'wrangler deploy --env NAME' deploys it")
}

// refuseEmpty refuses the Cloudflare flags given empty: each silently
// meant its default (the config's bucket, CLOUDFLARE_API_TOKEN).
func (c *cfFlags) refuseEmpty(cmd *cobra.Command, more ...cmdutil.EmptyFlag) error {
	return cmdutil.RefuseEmpty(cmd, append([]cmdutil.EmptyFlag{
		{Name: "bucket", Hint: "name the bucket, or leave --bucket out for the wrangler config's (else " + runtimecli.DefaultBucket + ")"},
		{Name: "api-token-file", Hint: "name the file that holds the token (- for standard input), or leave --api-token-file out to use CLOUDFLARE_API_TOKEN"},
	}, more...)...)
}

// configName names the wrangler config at path, and the environment read
// from it, in messages.
func (c *cfFlags) configName(path string) string {
	if c.env == "" {
		return path
	}
	return path + " (env." + c.env + ")"
}

// writeConfigCmd is the sync that writes the pin where this Worker reads it.
func (c *cfFlags) writeConfigCmd() string {
	if c.env == "" {
		return "nimbus runtime sync --write-config"
	}
	return "nimbus runtime sync --env " + c.env + " --write-config"
}

// deployCmd deploys the Worker the pin is for.
func (c *cfFlags) deployCmd() string {
	if c.env == "" {
		return "npx wrangler deploy"
	}
	return "npx wrangler deploy --env " + c.env
}

// varsKey is where the pin variable lives in the file: vars, or
// env.NAME.vars with --env.
func (c *cfFlags) varsKey() string {
	if c.env == "" {
		return "vars." + runtimecli.PinVar
	}
	return "env." + c.env + ".vars." + runtimecli.PinVar
}

// readWrangler parses a wrangler config and returns the part of it that
// environment env ("" the top level) deploys. A missing default file is not
// an error (nil) without --env; a missing file the user named is.
func readWrangler(path string, named bool, env string) (*wranglerfile.File, []byte, error) {
	data, err := regularfile.ReadFile(path, wranglerfile.MaxSize)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !named {
			if _, err := provision.WranglerEnvironment(nil, path, env); err != nil {
				return nil, nil, runtimecli.CLIError(err)
			}
			return nil, nil, nil
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, clierr.Configf("check the path, or run 'nimbus init' first", "wrangler config %s does not exist", path)
		}
		return nil, nil, clierr.Wrap(err, exitcode.Config, clierr.CodeIO, "cannot read "+path+": "+regularfile.Reason(err), regularfile.Hint(err, "name the wrangler config with --write-config"))
	}
	wf, err := wranglerfile.Parse(data)
	if err != nil {
		return nil, nil, clierr.Wrap(err, exitcode.DataErr, provision.CodeWranglerConfig, path+": "+err.Error(), "fix the file (JSONC with a top-level object)")
	}
	if wf, err = provision.WranglerEnvironment(wf, path, env); err != nil {
		return nil, nil, runtimecli.CLIError(err)
	}
	return wf, data, nil
}

// target is the bucket and account a command works on, and the client.
type target struct {
	client    *provision.Client
	accountID string
	bucket    string
}

// resolveTarget applies the precedence: flags, then the environment, then
// wrangler.jsonc, then defaults (for the account: the token's only one).
func resolveTarget(cmd *cobra.Command, f *cmdutil.Factory, c *cfFlags, wf *wranglerfile.File) (*target, error) {
	bucket := c.bucket
	if bucket == "" && wf != nil {
		bucket = wf.Bucket(scaffold.BindingRuntimeCache)
	}
	if bucket == "" {
		bucket = runtimecli.DefaultBucket
	}
	if err := provision.ValidateBucketName(bucket); err != nil {
		return nil, runtimecli.CLIError(err)
	}
	token, err := runtimecli.APIToken(f, c.apiTokenFile)
	if err != nil {
		return nil, err
	}
	client, err := runtimecli.CloudflareClient(f, token)
	if err != nil {
		return nil, err
	}
	id := c.accountID
	if id == "" {
		id = f.Getenv("CLOUDFLARE_ACCOUNT_ID")
	}
	if id == "" && wf != nil {
		id = wf.AccountID
	}
	id, err = client.ResolveAccountID(cmd.Context(), id)
	if err != nil {
		return nil, runtimecli.CLIError(err)
	}
	return &target{client: client, accountID: id, bucket: bucket}, nil
}
