package provision

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/scaffold"
)

// Bucket is one R2 bucket the Worker binds.
type Bucket struct {
	// Binding is the wrangler binding name (e.g. NPM_TARBALL_CACHE); it is
	// informational and may be empty.
	Binding string
	// Name is the R2 bucket's name; it must pass ValidateBucketName.
	Name string
}

// SecretSpec asks Run to put a Worker secret. The value is never printed,
// logged or placed in an error.
type SecretSpec struct {
	// Name of the secret binding, e.g. JWT_SECRET.
	Name string
	// Value, when non-empty, is used as is.
	Value string
	// File is read when Value is empty; if it does not exist, a new secret
	// from crypto/rand is written there with mode 0600 and reused by later
	// runs, so reruns converge instead of rotating the secret. A secret is
	// generated only for a Worker that does not have one yet: on another
	// machine (a fresh CI runner) the file is missing while the Worker's
	// secret is in use, and a new one would rotate it to a value nobody
	// else holds (CodeSecretExists).
	File string
	// Dir, used when Value and File are empty, is the directory of the
	// secrets setup generates: the secret is kept in
	// GeneratedSecretFile(Dir, account, Worker), which Run names once the
	// account is resolved, so the same Worker name in two accounts has
	// two secrets. The file older versions kept there for every account,
	// LegacySecretFile(Dir, Worker), says nothing of the account it was
	// made for: it is read only when it equals the secret last given for
	// this account's Worker (then it is adopted), and otherwise a Worker
	// that already has the secret stops the run (CodeSecretLegacyFile),
	// whose hint is to pass that file as File: the user's word that it is
	// this account's, and Run then copies it to GeneratedSecretFile
	// (Result.SecretAdoptedFrom). With Value or File, Dir (when set)
	// holds the record of the secret last given for the Worker (a salted
	// hash): a Worker that already has the secret is warned about a given
	// one only when it is not the one recorded or generated there.
	Dir string
	// Replace puts the secret even when the Worker already has one. The
	// API lists secret names, never values, so a Worker's secret cannot be
	// compared with the one given: without Replace, a Worker that has the
	// secret keeps it (SecretExists), since putting the given or stored
	// value again would revert a rotation made since (`wrangler secret
	// put`) and break every token minted with the current secret. With
	// Replace and no secret at hand, a new one is generated into the file.
	Replace bool
}

// Plan is everything Run needs. It is a plain value: the CLI fills it from
// flags, the environment and the wrangler config builder.
type Plan struct {
	// Worker is the Worker (script) name.
	Worker string
	// AccountID may be empty: Run then uses the wrangler config's
	// account_id, else the only account the token sees.
	AccountID string
	// AccountIDFrom says where AccountID came from (e.g.
	// "CLOUDFLARE_ACCOUNT_ID"), for messages; it may be empty.
	AccountIDFrom string
	// ReplaceAccountID says AccountID was chosen deliberately (the
	// --account-id flag) over another account_id in WranglerConfig: the
	// file's is then replaced, with a warning naming it
	// (Result.ReplacedAccountID). Without it a different account_id in the
	// file stops Run before any request (CodeAccountMismatch): an
	// AccountID picked up from the environment (a CLOUDFLARE_ACCOUNT_ID
	// left over from another project) would otherwise move the project,
	// and the next deploy, to another account unnoticed.
	ReplaceAccountID bool
	// Buckets are checked and created in order; duplicates are ignored.
	Buckets []Bucket
	// RuntimeBucket is reported back; it is normally one of Buckets.
	RuntimeBucket string
	// DryRun performs only GET requests and writes no file.
	DryRun bool
	// WranglerConfig is the wrangler.jsonc that receives account_id; empty
	// skips the step.
	WranglerConfig string
	// WranglerEnv is the wrangler environment the edits are for: account_id
	// where env.<WranglerEnv> reads it (wranglerfile.SetEnvAccountID: its
	// own member, else the top level unless that names another account)
	// and the catalog pin in env.<WranglerEnv>.vars, since vars are not
	// inherited. "" is the top level.
	WranglerEnv string
	// NimbusConfig is the nimbus.yaml that receives the endpoint; empty skips
	// the step.
	NimbusConfig string
	// Secret, when set, puts a secret on the Worker.
	Secret *SecretSpec
	// Runtimes, when set, publishes the runtimes into RuntimeBucket once
	// the buckets exist (nil: --skip-runtimes).
	Runtimes RuntimeSyncer
	// WritePin sets vars.NIMBUS_RUNTIME_CATALOG_SHA256 in WranglerConfig to
	// the digest the runtime sync published, in the same edit as account_id.
	WritePin bool
	// Timeout bounds the whole run (0: no bound beyond each request's own
	// timeouts and retries, which many steps can add up to very long).
	// When it runs out, Run stops in the step it was in and returns
	// CodeTimeout naming that step; the steps done are kept, and a rerun
	// resumes after them.
	Timeout time.Duration
}

// RuntimeSyncer publishes the runtime catalog into a bucket and says what
// it wrote (with dryRun, the digest it would publish). pkg/runtimesync
// provides one; provision only orders it after the buckets.
type RuntimeSyncer interface {
	// SyncRuntimes publishes into bucket of accountID; with dryRun it
	// writes nothing and reports the digest it would publish.
	SyncRuntimes(ctx context.Context, accountID, bucket string, dryRun bool) (RuntimeSync, error)
}

// RuntimeSync is what a runtime sync did.
type RuntimeSync struct {
	// Digest is the catalog's lowercase hex SHA-256.
	Digest string
	// Uploaded counts the objects written (blobs, manifests, catalogs);
	// 0 when the bucket already held them all.
	Uploaded int
	// CatalogChanged: the bucket's catalog was another one (or none)
	// before the sync.
	CatalogChanged bool
}

func quote(s string) string { return strconv.Quote(s) }

func validAccountID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// validSecretName is ^[A-Za-z_][A-Za-z0-9_]*$, the shape of a Worker
// secret binding name, checked without a start-up regexp.
func validSecretName(name string) bool {
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// ValidateBucketName applies R2's naming rule, shared with nimbus init
// through pkg/scaffold.
func ValidateBucketName(name string) error {
	if err := scaffold.ValidateBucketName(name); err != nil {
		return &Error{Kind: KindUsage, Code: CodeBucketName, Err: err,
			Message: "invalid R2 bucket name " + quote(name) + ": " + err.Error(),
			Hint:    "bucket names are 3-63 characters of a-z, 0-9 and '-', not starting or ending with '-'; a bucket prefix can be at most 43 characters"}
	}
	return nil
}

// ValidateWorkerName applies the Worker naming rule shared with nimbus init.
func ValidateWorkerName(name string) error {
	if err := scaffold.ValidateWorkerName(name); err != nil {
		e := &Error{Kind: KindUsage, Code: CodeWorkerName, Message: err.Error(), Err: err}
		var se *scaffold.Error
		if errors.As(err, &se) {
			e.Message, e.Hint = se.Message, se.Hint
		}
		return e
	}
	return nil
}

// Validate checks the plan before any request is made.
func (p Plan) Validate() error {
	if err := ValidateWorkerName(p.Worker); err != nil {
		return err
	}
	if p.AccountID != "" && !validAccountID(p.AccountID) {
		return invalidAccountID(p.AccountID)
	}
	if len(p.Buckets) == 0 {
		return &Error{Kind: KindUsage, Code: CodeInvalidPlan, Message: "no R2 buckets to provision"}
	}
	for _, b := range p.Buckets {
		if err := ValidateBucketName(b.Name); err != nil {
			return err
		}
	}
	if p.RuntimeBucket != "" {
		if err := ValidateBucketName(p.RuntimeBucket); err != nil {
			return err
		}
	}
	if p.Runtimes != nil && p.RuntimeBucket == "" {
		// Only a wrangler config whose r2_buckets leave out the runtime
		// cache gets here; --runtime-bucket would contradict the file.
		cfg := p.WranglerConfig
		if cfg == "" {
			cfg = "the wrangler config"
		}
		return &Error{Kind: KindUsage, Code: CodeInvalidPlan,
			Message: cfg + " binds no " + scaffold.BindingRuntimeCache + " bucket, so there is nowhere to publish the runtimes",
			Hint: "add {\"binding\": \"" + scaffold.BindingRuntimeCache + "\", \"bucket_name\": \"" + scaffold.SharedRuntimeBucket +
				"\"} to r2_buckets, or pass --skip-runtimes to provision the rest without runtimes"}
	}
	if s := p.Secret; s != nil {
		if !validSecretName(s.Name) {
			return &Error{Kind: KindUsage, Code: CodeInvalidPlan, Message: "invalid secret name " + quote(s.Name)}
		}
		if s.Value == "" && s.File == "" && s.Dir == "" {
			return &Error{Kind: KindUsage, Code: CodeInvalidPlan, Message: "secret " + s.Name + " has neither a value, a file nor a directory"}
		}
	}
	return nil
}

// uniqueBuckets drops repeated names, keeping the first binding.
func uniqueBuckets(in []Bucket) []Bucket {
	seen := map[string]bool{}
	var out []Bucket
	for _, b := range in {
		if !seen[b.Name] {
			seen[b.Name] = true
			out = append(out, b)
		}
	}
	return out
}
