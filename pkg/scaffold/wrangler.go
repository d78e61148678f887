package scaffold

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nimbus-sh/nimbus/internal/hexdigest"
)

// Defaults and limits of the wrangler configuration builder, equal to the
// newest upstream @nimbus-sh/config values.
const (
	// DefaultCompatibilityDate is the compatibility date written when none is given.
	DefaultCompatibilityDate = "2026-09-26"
	// MinCPUMs is upstream's MAX_FACET_CPU_MS: the sandbox facets need the full
	// CPU budget, so the builder refuses anything lower.
	MinCPUMs = 300000
	// MinSubrequests is upstream's MAX_FACET_SUBREQUESTS.
	MinSubrequests = 10000000
	// SharedRuntimeBucket is the runtime cache bucket of the "shared" mode. R2
	// bucket names are per account, so setup creates it in the user's account.
	SharedRuntimeBucket = "nimbus-runtime-cache-public"
	// WranglerSchema is the `$schema` value, pointing into the installed wrangler.
	WranglerSchema = "./node_modules/wrangler/config-schema.json"

	// nodejsCompatBefore and enhancedErrorsBefore are the dates from which the
	// runtime enables these behaviours by default, so the flags are only
	// needed for older compatibility dates.
	nodejsCompatBefore   = "2026-08-04"
	enhancedErrorsBefore = "2026-04-21"
)

// R2 binding names written into r2_buckets, in upstream order.
const (
	// BindingTarballCache is the bucket binding where the Worker caches
	// npm tarballs.
	BindingTarballCache = "NPM_TARBALL_CACHE"
	// BindingPackumentCache is the bucket binding where the Worker caches
	// npm package documents.
	BindingPackumentCache = "NPM_PACKUMENT_CACHE"
	// BindingRuntimeCache is the bucket binding the Worker installs
	// language runtimes from; `nimbus runtime sync` publishes into it.
	BindingRuntimeCache = "NIMBUS_RUNTIME_CACHE"
)

// Suffixes appended to the bucket prefix for the derived bucket names.
const (
	// SuffixTarballCache names the BindingTarballCache bucket.
	SuffixTarballCache = "-npm-cache"
	// SuffixPackumentCache names the BindingPackumentCache bucket.
	SuffixPackumentCache = "-npm-packument-cache"
	// SuffixRuntimeCache names the BindingRuntimeCache bucket in
	// RuntimeCacheBYOA mode.
	SuffixRuntimeCache = "-runtime-cache"
)

// RuntimeCacheMode selects where the runtime cache bucket comes from.
type RuntimeCacheMode string

const (
	// RuntimeCacheShared uses SharedRuntimeBucket (the default).
	RuntimeCacheShared RuntimeCacheMode = "shared"
	// RuntimeCacheBYOA ("bring your own account") uses <prefix>-runtime-cache.
	RuntimeCacheBYOA RuntimeCacheMode = "byoa"
)

// RuntimeCache is upstream's runtimeCache option: a mode, and optionally an
// explicit bucket that wins over the mode's bucket.
type RuntimeCache struct {
	// Mode is RuntimeCacheShared or RuntimeCacheBYOA; empty means shared.
	Mode RuntimeCacheMode
	// Bucket, when set, is used as the runtime cache bucket name.
	Bucket string
}

// Placement values accepted by the builder.
const (
	// PlacementSmart writes placement {mode: "smart"} (the default).
	PlacementSmart = "smart"
	// PlacementOff leaves the placement key out.
	PlacementOff = "off"
)

// Alias is one module alias entry (wrangler `alias`).
type Alias = KeyValue

// RequiredAliases returns upstream's NIMBUS_REQUIRED_ALIASES: CommonJS deep
// imports that the worker bundle needs resolved. A fresh slice is returned so
// callers cannot change the builder's defaults.
func RequiredAliases() StringMap {
	return StringMap{
		{"clean-git-ref", "clean-git-ref/lib/index.js"},
		{"is-git-ref-name-valid", "is-git-ref-name-valid/index.js"},
		{"crc-32", "crc-32"},
		{"sha.js", "sha.js"},
		{"pako", "pako"},
		{"pify", "pify"},
		{"diff", "diff"},
		{"diff3", "diff3"},
		{"ignore", "ignore"},
		{"readable-stream", "readable-stream"},
		{"simple-get", "simple-get"},
		{"minimisted", "minimisted"},
	}
}

// AgentOAuth configures the Session Agent's Cloudflare OAuth client. The
// client secret is deliberately absent: secrets are never written to config.
type AgentOAuth struct {
	// ClientID is the OAuth client id, written as
	// NIMBUS_CF_OAUTH_CLIENT_ID.
	ClientID string
	// RedirectURI is the OAuth redirect URI, written as
	// NIMBUS_CF_OAUTH_REDIRECT_URI.
	RedirectURI string
	// Scopes are the OAuth scopes, written space-separated as
	// NIMBUS_CF_OAUTH_SCOPES.
	Scopes []string
}

// AgentOwner configures the owner-token fallback. The API token itself is a
// secret and is never written.
type AgentOwner struct {
	// AccountID is the Cloudflare account id, written as
	// NIMBUS_CLOUDFLARE_ACCOUNT_ID.
	AccountID string
}

// AgentOptions is upstream's `agent` option; every non-empty field becomes a
// Worker variable.
type AgentOptions struct {
	// Model is the Workers AI model, written as NIMBUS_AGENT_MODEL.
	Model string
	// GatewayID is the AI Gateway id, written as NIMBUS_AGENT_GATEWAY_ID.
	GatewayID string
	// OAuth configures the OAuth client; nil writes none of its
	// variables.
	OAuth *AgentOAuth
	// Owner configures the owner-token fallback; nil writes none of its
	// variables.
	Owner *AgentOwner
}

// WranglerOptions are the inputs of BuildWranglerConfig, one field per
// upstream buildNimbusWranglerConfig option. Zero values mean "upstream
// default".
type WranglerOptions struct {
	// Name is the Worker name (required); it is also the default bucket prefix.
	Name string
	// CompatibilityDate is YYYY-MM-DD; empty means DefaultCompatibilityDate.
	CompatibilityDate string
	// CPUMs is limits.cpu_ms; 0 means MinCPUMs, anything below MinCPUMs is refused.
	CPUMs int
	// Subrequests is limits.subrequests; 0 means MinSubrequests, anything below is refused.
	Subrequests int
	// Placement is PlacementSmart (or empty) or PlacementOff.
	Placement string
	// R2BucketPrefix prefixes the npm cache buckets; empty means Name.
	R2BucketPrefix string
	// RuntimeCache selects the runtime cache bucket.
	RuntimeCache RuntimeCache
	// NimbusPublicDirectory adds the NimbusPublicDirectory Durable Object and
	// its nimbus-v2 migration.
	NimbusPublicDirectory bool
	// LegacyPublic sets NIMBUS_LEGACY_PUBLIC=1 (unauthenticated legacy mode).
	LegacyPublic bool
	// RuntimeCatalogSHA256 pins the runtime catalog; 64 lowercase hex digits.
	RuntimeCatalogSHA256 string
	// ExtraAliases are merged over RequiredAliases (same key: value replaced in place).
	ExtraAliases []Alias
	// Agent sets the Session Agent variables.
	Agent *AgentOptions
}

// WranglerConfig is the typed wrangler configuration. Its field order is the
// key order upstream's builder produces, so encoding/json writes the same
// document.
type WranglerConfig struct {
	// Schema is the JSON schema URL ("$schema"), for editor completion.
	Schema string `json:"$schema"`
	// Name is the Worker name ("name").
	Name string `json:"name"`
	// Main is the Worker's entry module ("main"), src/index.ts.
	Main string `json:"main"`
	// CompatibilityDate is the Workers compatibility date, YYYY-MM-DD
	// ("compatibility_date").
	CompatibilityDate string `json:"compatibility_date"`
	// CompatibilityFlags are the runtime flags ("compatibility_flags");
	// flags the date already implies are left out.
	CompatibilityFlags []string `json:"compatibility_flags"`
	// Limits are the CPU and subrequest limits ("limits").
	Limits Limits `json:"limits"`
	// Assets serves the Nimbus UI ("assets").
	Assets Assets `json:"assets"`
	// Alias maps module specifiers to the files the bundler must use
	// ("alias"), in upstream's key order.
	Alias StringMap `json:"alias"`
	// DurableObjects binds the Durable Object classes
	// ("durable_objects").
	DurableObjects DurableObjects `json:"durable_objects"`
	// Migrations create the Durable Object classes' SQLite storage
	// ("migrations"); they must never be reordered or edited once
	// deployed.
	Migrations []Migration `json:"migrations"`
	// WorkerLoaders bind the Worker Loader, with which the Worker loads
	// code at run time ("worker_loaders").
	WorkerLoaders []WorkerLoader `json:"worker_loaders"`
	// R2Buckets bind the cache and runtime buckets ("r2_buckets").
	R2Buckets []R2Bucket `json:"r2_buckets"`
	// Placement is the smart placement block ("placement"); nil with
	// PlacementOff leaves the key out.
	Placement *Placement `json:"placement,omitempty"`
	// Vars are the Worker's plain-text variables ("vars"), never secrets;
	// nil leaves the key out.
	Vars StringMap `json:"vars,omitempty"`

	// prefixFlag and runtimeFlag remember which CLI flag decides the derived
	// bucket names, so ValidateNames can say which one fixes a bad name.
	prefixFlag  string
	runtimeFlag string
}

// Limits is the wrangler `limits` block.
type Limits struct {
	// CPUMs is the CPU time limit per request, in milliseconds
	// ("cpu_ms").
	CPUMs int `json:"cpu_ms"`
	// Subrequests is the most subrequests one request may make
	// ("subrequests").
	Subrequests int `json:"subrequests"`
}

// Assets is the wrangler `assets` block serving the Nimbus UI.
type Assets struct {
	// Directory is the directory served, inside the installed
	// @nimbus-sh/worker package ("directory").
	Directory string `json:"directory"`
	// Binding is the name the Worker reaches the assets by ("binding").
	Binding string `json:"binding"`
	// RunWorkerFirst are the path patterns the Worker handles before
	// static assets ("run_worker_first"): the API, sessions and /new.
	RunWorkerFirst []string `json:"run_worker_first"`
}

// DurableObjects is the wrangler `durable_objects` block.
type DurableObjects struct {
	// Bindings are the Durable Object bindings ("bindings").
	Bindings []DurableObjectBinding `json:"bindings"`
}

// DurableObjectBinding binds a Durable Object class exported by src/index.ts.
type DurableObjectBinding struct {
	// Name is the binding name the Worker uses ("name").
	Name string `json:"name"`
	// ClassName is the exported class ("class_name").
	ClassName string `json:"class_name"`
}

// Migration is one Durable Object migration step.
type Migration struct {
	// Tag names the migration step ("tag"); wrangler applies each tag
	// once.
	Tag string `json:"tag"`
	// NewSqliteClasses are the classes that get SQLite-backed storage
	// from this step ("new_sqlite_classes").
	NewSqliteClasses []string `json:"new_sqlite_classes"`
}

// WorkerLoader is one Worker Loader binding.
type WorkerLoader struct {
	// Binding is the name the Worker reaches the loader by ("binding").
	Binding string `json:"binding"`
}

// R2Bucket binds an R2 bucket.
type R2Bucket struct {
	// Binding is the name the Worker reaches the bucket by ("binding").
	Binding string `json:"binding"`
	// BucketName is the R2 bucket's name ("bucket_name").
	BucketName string `json:"bucket_name"`
}

// Placement is the wrangler `placement` block.
type Placement struct {
	// Mode is the placement mode ("mode"), "smart".
	Mode string `json:"mode"`
}

// BuildWranglerConfig is the Go equivalent of upstream buildNimbusWranglerConfig:
// a pure function from options to the wrangler configuration, refusing the
// same inputs upstream refuses (plus malformed dates, modes and placements,
// which upstream would silently mis-handle). It does not check Cloudflare's
// naming rules; call ValidateNames on the result for that.
func BuildWranglerConfig(opts WranglerOptions) (*WranglerConfig, error) {
	if opts.Name == "" {
		return nil, &Error{Code: CodeNameRequired, Message: "the Worker name is required", Hint: "pass --name <worker>", Flag: "--name"}
	}

	date := opts.CompatibilityDate
	if date == "" {
		date = DefaultCompatibilityDate
	}
	if _, err := time.Parse(time.DateOnly, date); err != nil {
		return nil, optionError("--compatibility-date", "use the form YYYY-MM-DD", "invalid compatibility date %q", date)
	}
	flags := []string{}
	if date < nodejsCompatBefore {
		flags = append(flags, "nodejs_compat")
	}
	if date < enhancedErrorsBefore {
		flags = append(flags, "enhanced_error_serialization")
	}

	cpu := opts.CPUMs
	if cpu == 0 {
		cpu = MinCPUMs
	}
	if cpu < MinCPUMs {
		return nil, optionError("", fmt.Sprintf("leave it unset or use at least %d", MinCPUMs),
			"cpuMs must be an integer of at least %d (the sandbox facets need the full CPU budget), got %d", MinCPUMs, cpu)
	}
	sub := opts.Subrequests
	if sub == 0 {
		sub = MinSubrequests
	}
	if sub < MinSubrequests {
		return nil, optionError("", fmt.Sprintf("leave it unset or use at least %d", MinSubrequests),
			"subrequests must be at least %d, got %d", MinSubrequests, sub)
	}

	var placement *Placement
	switch opts.Placement {
	case "", PlacementSmart:
		placement = &Placement{Mode: PlacementSmart}
	case PlacementOff:
	default:
		return nil, optionError("", `use "smart" or "off"`, "unknown placement %q", opts.Placement)
	}

	prefix, prefixFlag := opts.R2BucketPrefix, "--bucket-prefix"
	if prefix == "" {
		prefix, prefixFlag = opts.Name, "--name or --bucket-prefix"
	}

	var runtimeBucket, runtimeFlag string
	switch opts.RuntimeCache.Mode {
	case "", RuntimeCacheShared:
		runtimeBucket = SharedRuntimeBucket
	case RuntimeCacheBYOA:
		runtimeBucket, runtimeFlag = prefix+SuffixRuntimeCache, prefixFlag
	default:
		return nil, optionError("--runtime-cache", `use "shared" or "byoa"`, "unknown runtime cache mode %q", opts.RuntimeCache.Mode)
	}
	if opts.RuntimeCache.Bucket != "" {
		runtimeBucket, runtimeFlag = opts.RuntimeCache.Bucket, "--runtime-bucket"
	}

	vars := StringMap{}
	if opts.LegacyPublic {
		vars.Set("NIMBUS_LEGACY_PUBLIC", "1")
	}
	if opts.RuntimeCatalogSHA256 != "" {
		if !hexdigest.IsSHA256(opts.RuntimeCatalogSHA256) {
			return nil, optionError("--runtime-catalog-sha256", "use the 64 lowercase hex digits printed by `nimbus runtime sync`",
				"runtimeCatalogSha256 must be 64 lowercase hex characters, got %q", opts.RuntimeCatalogSHA256)
		}
		vars.Set("NIMBUS_RUNTIME_CATALOG_SHA256", opts.RuntimeCatalogSHA256)
	}
	if a := opts.Agent; a != nil {
		setIf(&vars, "NIMBUS_AGENT_MODEL", a.Model)
		setIf(&vars, "NIMBUS_AGENT_GATEWAY_ID", a.GatewayID)
		if o := a.OAuth; o != nil {
			setIf(&vars, "NIMBUS_CF_OAUTH_CLIENT_ID", o.ClientID)
			setIf(&vars, "NIMBUS_CF_OAUTH_REDIRECT_URI", o.RedirectURI)
			setIf(&vars, "NIMBUS_CF_OAUTH_SCOPES", strings.Join(o.Scopes, " "))
		}
		if o := a.Owner; o != nil {
			setIf(&vars, "NIMBUS_CLOUDFLARE_ACCOUNT_ID", o.AccountID)
		}
	}
	if len(vars) == 0 {
		vars = nil
	}

	alias := RequiredAliases()
	for _, a := range opts.ExtraAliases {
		alias.Set(a.Key, a.Value)
	}

	durable := []DurableObjectBinding{{Name: "NIMBUS_SESSION", ClassName: "NimbusSession"}}
	migrations := []Migration{{Tag: "nimbus-v1", NewSqliteClasses: []string{"NimbusSession"}}}
	if opts.NimbusPublicDirectory {
		durable = append(durable, DurableObjectBinding{Name: "NIMBUS_PUBLIC_DIRECTORY", ClassName: "NimbusPublicDirectory"})
		migrations = append(migrations, Migration{Tag: "nimbus-v2", NewSqliteClasses: []string{"NimbusPublicDirectory"}})
	}

	return &WranglerConfig{
		Schema:             WranglerSchema,
		Name:               opts.Name,
		Main:               "src/index.ts",
		CompatibilityDate:  date,
		CompatibilityFlags: flags,
		Limits:             Limits{CPUMs: cpu, Subrequests: sub},
		Assets: Assets{
			Directory:      "node_modules/@nimbus-sh/worker/public",
			Binding:        "ASSETS",
			RunWorkerFirst: []string{"/api/*", "/s/*", "/new"},
		},
		Alias:          alias,
		DurableObjects: DurableObjects{Bindings: durable},
		Migrations:     migrations,
		WorkerLoaders:  []WorkerLoader{{Binding: "LOADER"}},
		R2Buckets: []R2Bucket{
			{Binding: BindingTarballCache, BucketName: prefix + SuffixTarballCache},
			{Binding: BindingPackumentCache, BucketName: prefix + SuffixPackumentCache},
			{Binding: BindingRuntimeCache, BucketName: runtimeBucket},
		},
		Placement:   placement,
		Vars:        vars,
		prefixFlag:  prefixFlag,
		runtimeFlag: runtimeFlag,
	}, nil
}

func setIf(m *StringMap, key, value string) {
	if value != "" {
		m.Set(key, value)
	}
}

// BucketNames returns every r2_buckets bucket name in order (tarball cache,
// packument cache, runtime cache): the buckets setup must create.
func (c *WranglerConfig) BucketNames() []string {
	names := make([]string, len(c.R2Buckets))
	for i, b := range c.R2Buckets {
		names[i] = b.BucketName
	}
	return names
}

// RuntimeBucket returns the bucket bound as NIMBUS_RUNTIME_CACHE.
func (c *WranglerConfig) RuntimeBucket() string {
	for _, b := range c.R2Buckets {
		if b.Binding == BindingRuntimeCache {
			return b.BucketName
		}
	}
	return ""
}

// JSON returns the configuration as 2-space indented JSON with a trailing
// newline, keys in upstream order.
func (c *WranglerConfig) JSON() ([]byte, error) {
	return marshalIndent(c)
}

// ValidateNames checks the Worker name and every bucket name against
// Cloudflare's rules, so a bad name fails here instead of at deploy time. The
// returned *Error names the flag that fixes the problem.
func (c *WranglerConfig) ValidateNames() error {
	if err := ValidateWorkerName(c.Name); err != nil {
		return err
	}
	for _, b := range c.R2Buckets {
		if err := ValidateBucketName(b.BucketName); err != nil {
			flag := c.prefixFlag
			if b.Binding == BindingRuntimeCache {
				flag = c.runtimeFlag
			}
			var se *Error
			if errors.As(err, &se) {
				se.Message = fmt.Sprintf("the %s bucket name %q is invalid: %s", b.Binding, b.BucketName, se.Message)
				se.Flag = flag
				if flag != "" {
					se.Message += " (change it with " + flag + ")"
					se.Hint = fmt.Sprintf("choose a shorter or simpler value with %s (bucket names are 3-63 characters of a-z, 0-9 and '-', not starting or ending with '-')", flag)
				}
			}
			return err
		}
	}
	return nil
}
