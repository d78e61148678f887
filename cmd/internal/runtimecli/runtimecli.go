// Package runtimecli is the command-side wiring of runtime sync shared by
// `nimbus runtime` and `nimbus setup cloudflare`: credentials and the
// Cloudflare client, npm's registry setting, the cache directory, the
// progress view, the JSON result and the mapping of errors to exit codes.
package runtimecli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"

	"github.com/spf13/pflag"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/regularfile"
	"github.com/nimbus-sh/nimbus/pkg/npmregistry"
	"github.com/nimbus-sh/nimbus/pkg/provision"
	"github.com/nimbus-sh/nimbus/pkg/runtimesync"
)

// DefaultBucket is upstream's default runtime bucket.
const DefaultBucket = "nimbus-runtime-cache-public"

// PinVar is the Worker variable that pins the runtime catalog.
const PinVar = "NIMBUS_RUNTIME_CATALOG_SHA256"

// Warning codes (clierr.Warning) of runtime sync, runtime list and setup.
const (
	// WarnPinMissing: the Worker's config does not pin the catalog just
	// published (or read), so runtime installs in it fail.
	WarnPinMissing = "W_CATALOG_PIN_MISSING"
	// WarnPinStale: the Worker's config pins an older catalog than the
	// bucket's current one.
	WarnPinStale = "W_CATALOG_PIN_STALE"
	// WarnPinBucket: the Worker's config binds another runtime bucket than
	// the one synced, so this catalog's pin does not apply to it.
	WarnPinBucket = "W_CATALOG_PIN_BUCKET"
)

// APIToken reads the Cloudflare API token: --api-token-file (- for stdin)
// wins over CLOUDFLARE_API_TOKEN. A flag never carries the token itself.
func APIToken(f *cmdutil.Factory, file string) (string, error) {
	if file != "" {
		tok, err := cmdutil.ReadSecretFileFrom(file, "API token file", "--api-token-file", f.IOStreams.In)
		if err != nil {
			return "", err
		}
		if tok == "" {
			return "", clierr.Configf("put the API token in the file, on one line", "API token file %s is empty", file)
		}
		return tok, nil
	}
	if tok := f.Getenv("CLOUDFLARE_API_TOKEN"); tok != "" {
		return tok, nil
	}
	return "", clierr.Configf("export CLOUDFLARE_API_TOKEN or pass --api-token-file FILE; create a token at https://dash.cloudflare.com/profile/api-tokens",
		"CLOUDFLARE_API_TOKEN env var required")
}

// CloudflareClient builds the Cloudflare client with the same base URL
// override and retry policy `setup cloudflare` uses.
func CloudflareClient(f *cmdutil.Factory, token string) (*provision.Client, error) {
	c, err := provision.NewClient(provision.ClientOptions{
		Token:        token,
		BaseURL:      f.Getenv("CLOUDFLARE_API_BASE_URL"),
		MaxRetries:   provision.DefaultMaxRetries,
		RetryBackoff: provision.DefaultRetryBackoff,
	})
	if err != nil {
		return nil, CLIError(err)
	}
	return c, nil
}

// maxNpmrc bounds what is read of an .npmrc.
const maxNpmrc = 1 << 20

// Registry returns a client for the registry npm would use for the runtime
// packages: npm_config_registry, then registry= (or @nimbus-sh:registry=)
// in ./.npmrc, then in the user's .npmrc (NPM_CONFIG_USERCONFIG or
// ~/.npmrc), then the public registry.
func Registry(f *cmdutil.Factory) (*npmregistry.Client, error) {
	sources := []npmregistry.Settings{npmregistry.EnvSettings(f.Getenv)}
	// Regular files of a bounded size only, as npm reads them: a named
	// pipe must not block the command, /dev/zero not fill memory.
	if data, err := regularfile.ReadFile(".npmrc", maxNpmrc); err == nil {
		sources = append(sources, npmregistry.ParseNpmrc(data, f.Getenv))
	}
	user := f.Getenv("NPM_CONFIG_USERCONFIG")
	if user == "" {
		user = f.Getenv("npm_config_userconfig")
	}
	if user == "" && f.Getenv("HOME") != "" {
		user = filepath.Join(f.Getenv("HOME"), ".npmrc")
	}
	if user != "" {
		if data, err := regularfile.ReadFile(user, maxNpmrc); err == nil {
			sources = append(sources, npmregistry.ParseNpmrc(data, f.Getenv))
		}
	}
	reg, err := npmregistry.ResolveRegistry(runtimesync.PackagePrefix+"clang", sources...)
	if err != nil {
		return nil, CLIError(err)
	}
	tok, err := npmToken(f)
	if err != nil {
		return nil, err
	}
	return &npmregistry.Client{Registry: reg, UserAgent: "nimbus-cli", Token: tok}, nil
}

// CodeNpmToken is the error of an NIMBUS_NPM_TOKEN that is not one token.
const CodeNpmToken = "E_NPM_TOKEN"

// npmToken is the token of a private registry or mirror: the file named
// by NIMBUS_NPM_TOKEN_FILE, else NIMBUS_NPM_TOKEN, else none (the public
// registry needs none). It comes from the environment or a file, never
// argv, where other users and process listings would see it.
func npmToken(f *cmdutil.Factory) (string, error) {
	if path := f.Getenv("NIMBUS_NPM_TOKEN_FILE"); path != "" {
		tok, err := cmdutil.ReadSecretFileFrom(path, "registry token file", "NIMBUS_NPM_TOKEN_FILE", f.IOStreams.In)
		if err != nil {
			return "", err
		}
		if tok == "" {
			return "", clierr.New(exitcode.Config, CodeNpmToken, "NIMBUS_NPM_TOKEN_FILE names an empty file ("+path+")", "put the registry token alone on one line in it, or unset NIMBUS_NPM_TOKEN_FILE")
		}
		return tok, nil
	}
	// Trimmed as NIMBUS_TOKEN is: a CI secret often ends with a line
	// break. What is left goes into a header, so it must be one token.
	tok := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(f.Getenv("NIMBUS_NPM_TOKEN")), "\ufeff"))
	if strings.ContainsFunc(tok, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return "", clierr.New(exitcode.Config, CodeNpmToken, "NIMBUS_NPM_TOKEN is not one token: it holds a space, a line break or a control character",
			"set it to the registry token alone (a line break at the end is fine)")
	}
	return tok, nil
}

// CacheDir is where verified runtime tarballs are kept: nimbus/runtimes in
// the user cache directory (internal/paths: os.UserCacheDir's rules).
func CacheDir(f *cmdutil.Factory) (string, error) {
	dir, err := f.Paths().RuntimeCacheDir()
	if err != nil {
		return "", clierr.Configf("set HOME (XDG_CACHE_HOME, or LocalAppData on Windows)", "cannot find a cache directory for runtime packages: %v", err)
	}
	return dir, nil
}

// CLIError is clierr.From for the errors of runtime sync and Cloudflare
// provisioning (their types give the exit and stable codes): a usage error
// of theirs (an unknown runtime, a bad bucket name) is rendered Plain, as
// upstream's bare usage line.
func CLIError(err error) error {
	var ce *clierr.Error
	if err == nil || errors.As(err, &ce) {
		return err
	}
	e, ok := clierr.From(err)
	if !ok {
		return err
	}
	e.Plain = e.Exit == exitcode.Usage
	return e
}

// maxCacheKeep bounds runtime_cache_keep: a larger number is a typo (a
// size in MB, say) rather than a count of versions worth tens of MB each.
const maxCacheKeep = 1000

// CacheKeep resolves how many tarballs of each runtime the cache keeps:
// flag (--cache-keep, when the command has it) > NIMBUS_RUNTIME_CACHE_KEEP
// > runtime_cache_keep in a config file > runtimesync.DefaultKeep. A bad
// flag is a usage error (64); a bad variable or key a configuration error
// (78) naming where it came from, as for write_limit.
func CacheKeep(f *cmdutil.Factory, flag *pflag.Flag) (int, error) {
	cfg, err := f.LoadConfig()
	if err != nil {
		return 0, err
	}
	if flag != nil {
		if err := cfg.BindFlag("runtime_cache_keep", flag); err != nil {
			return 0, err
		}
	}
	v := cfg.GetString("runtime_cache_keep")
	if v == "" {
		return runtimesync.DefaultKeep, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err == nil && n >= 1 && n <= maxCacheKeep {
		return n, nil
	}
	want := fmt.Sprintf("expected a whole number of tarballs per runtime from 1 to %d (default %d)", maxCacheKeep, runtimesync.DefaultKeep)
	if cfg.FromFlag("runtime_cache_keep") {
		return 0, clierr.Usagef("--cache-keep %q: %s", v, want)
	}
	return 0, clierr.New(exitcode.Config, "E_CONFIG_INVALID", cfg.Invalid("runtime_cache_keep", want).Error(),
		"fix NIMBUS_RUNTIME_CACHE_KEEP (or runtime_cache_keep in the config file), or unset it for the default")
}

// Syncer assembles a runtimesync.Syncer for the bucket; its cache keeps
// keep tarballs of each runtime (CacheKeep).
func Syncer(f *cmdutil.Factory, c *provision.Client, accountID, bucket string, keep int, obs runtimesync.Observer) (*runtimesync.Syncer, error) {
	reg, err := Registry(f)
	if err != nil {
		return nil, err
	}
	dir, err := CacheDir(f)
	if err != nil {
		return nil, err
	}
	return &runtimesync.Syncer{
		Registry: reg,
		Bucket:   runtimesync.R2Bucket(c, accountID, bucket),
		Cache:    &runtimesync.Cache{Dir: dir, Keep: keep},
		Observer: obs,
	}, nil
}

// SetupSync runs the default runtime sync for `setup cloudflare` once its
// buckets exist (provision.RuntimeSyncer).
type SetupSync struct {
	F      *cmdutil.Factory
	Client *provision.Client
	View   *View
	// Keep is how many tarballs of each runtime the cache keeps
	// (CacheKeep); 0 means runtimesync.DefaultKeep.
	Keep int
	// Result is the sync's result once it ran.
	Result *runtimesync.Result
}

// SyncRuntimes publishes the default runtimes into bucket.
func (s *SetupSync) SyncRuntimes(ctx context.Context, accountID, bucket string, dryRun bool) (provision.RuntimeSync, error) {
	syncer, err := Syncer(s.F, s.Client, accountID, bucket, s.Keep, s.View)
	if err != nil {
		return provision.RuntimeSync{}, err
	}
	res, err := syncer.Sync(ctx, runtimesync.Options{DryRun: dryRun})
	s.View.Close()
	if err != nil {
		return provision.RuntimeSync{}, err
	}
	s.Result = res
	return provision.RuntimeSync{Digest: res.CatalogSHA256, Uploaded: res.Uploaded.Objects, CatalogChanged: res.PreviousSHA256 != res.CatalogSHA256}, nil
}
