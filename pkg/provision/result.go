package provision

import "fmt"

// BucketStatus is what happened to one bucket.
type BucketStatus string

// Bucket statuses, as reported in the CLI's bucketStatus map.
const (
	// BucketCreated: this run created the bucket.
	BucketCreated BucketStatus = "created"
	// BucketExists: the bucket was already there.
	BucketExists BucketStatus = "exists"
	// BucketPlanned: a dry run found the bucket missing; it would be
	// created.
	BucketPlanned BucketStatus = "planned"
	// BucketCreatedOrExisted: the create request was retried after an
	// answer was lost, then R2 said the bucket exists: this run may have
	// created it, or it was there already; nobody can tell.
	BucketCreatedOrExisted BucketStatus = "createdOrExisted"
)

// FileStatus is what happened to a local file.
type FileStatus string

// File statuses.
const (
	// FileUpdated: the file was written.
	FileUpdated FileStatus = "updated"
	// FileUnchanged: the file already said the same; it was not written.
	FileUnchanged FileStatus = "unchanged"
	// FilePlanned: a dry run found the file would be written.
	FilePlanned FileStatus = "planned"
	// FileSkipped: the Plan named no file, or the step had nothing to
	// record.
	FileSkipped FileStatus = "skipped"
)

// SecretStatus is what happened to the Worker secret.
type SecretStatus string

// Secret statuses.
const (
	// SecretSet: the secret was put on the Worker.
	SecretSet SecretStatus = "set"
	// SecretSkipped: the Plan asked for no secret.
	SecretSkipped SecretStatus = "skipped"
	// SecretPlanned: a dry run found the Worker exists; the secret would
	// be set.
	SecretPlanned SecretStatus = "planned"
	// SecretExists: the Worker already had the secret, which was left as
	// is (SecretSpec.Replace was not set), or a dry run found so.
	SecretExists SecretStatus = "exists"
)

// BucketResult pairs a planned bucket with its outcome.
type BucketResult struct {
	Bucket
	// Status is what happened to the bucket.
	Status BucketStatus
}

// Result describes what Run found and did. On error it holds what was
// established before the failure.
type Result struct {
	// Worker is the Worker name from the Plan.
	Worker string
	// AccountID is the account Run used: the Plan's, or the token's only
	// one.
	AccountID string
	// AccountName is that account's display name as Cloudflare reports
	// it.
	AccountName string
	// TokenScope is "user" or "account": which verify endpoint accepted it.
	TokenScope string
	// Buckets are the Plan's buckets with what happened to each, in
	// order.
	Buckets []BucketResult
	// RuntimeBucket is the Plan's runtime bucket, reported back.
	RuntimeBucket string
	// WranglerConfig is the status of the account_id edit.
	WranglerConfig FileStatus
	// ReplacedAccountID is the other account_id the wrangler config held,
	// which this run replaced (in a dry run, would replace) with
	// AccountID as Plan.ReplaceAccountID asked; "" when none was.
	ReplacedAccountID string
	// Subdomain is the account's workers.dev subdomain, "" if none.
	Subdomain string
	// WorkersDevURL is https://<worker>.<subdomain>.workers.dev, or "".
	WorkersDevURL string
	// Endpoint is the status of recording WorkersDevURL in nimbus.yaml.
	Endpoint FileStatus
	// Secret is what happened to the Worker secret.
	Secret SecretStatus
	// SecretFile is where the secret came from or was stored ("" for a
	// value given directly); SecretGenerated says a new one was made.
	SecretFile string
	// SecretGenerated reports that a new secret was generated into
	// SecretFile by this run.
	SecretGenerated bool
	// SecretAdoptedFrom is the file of an older layout
	// (LegacySecretFile) whose secret this run copied to SecretFile, the
	// account's own file; "" when none was (a dry run says it would).
	SecretAdoptedFrom string
	// SecretPreviousFile is where this run moved the secret it had
	// generated for the Worker (GeneratedSecretFile) once the Worker was
	// given another one: <file>.previous, or <file>.previous.N when that
	// holds another secret; "" when nothing was moved. A dry run names
	// where it would move it.
	SecretPreviousFile string
	// DryRun reports that only GET requests were made and no file was
	// written.
	DryRun bool
	// Mutations counts POST/PUT requests Run made to Cloudflare.
	Mutations int
	// Warnings are non-fatal problems (e.g. no workers.dev subdomain yet).
	Warnings []string
	// RuntimesSynced is true once the runtime sync succeeded (never in a
	// dry run).
	RuntimesSynced bool
	// RuntimeObjectsUploaded counts the objects the runtime sync wrote,
	// RuntimeCatalogChanged whether the catalog it published replaced
	// another (or none): a sync that finds everything in place changes
	// nothing.
	RuntimeObjectsUploaded int
	RuntimeCatalogChanged  bool
	// CatalogSHA256 is the digest the runtime sync published (in a dry
	// run, would publish); "" when it did not run.
	CatalogSHA256 string
	// Pin is the state of vars.NIMBUS_RUNTIME_CATALOG_SHA256 in the
	// wrangler config after the run; "" without a sync or a config.
	Pin PinState
}

// PinState is how the wrangler config's catalog pin relates to the digest
// the runtime sync published.
type PinState string

// Pin states.
const (
	// PinUpdated: WritePin set it now.
	PinUpdated PinState = "updated"
	// PinCurrent: it already named the digest.
	PinCurrent PinState = "current"
	// PinPlanned: WritePin would set it (dry run).
	PinPlanned PinState = "planned"
	// PinStale: it names another catalog (WritePin not asked).
	PinStale PinState = "stale"
	// PinMissing: the config has no pin (WritePin not asked).
	PinMissing PinState = "missing"
)

// Changes lists, in order, what Run changed: buckets created, files
// written, the secret set, the runtimes published. After a failure it says
// exactly what was done before it (Result holds what was established), so a
// CI log shows it without a checklist; a rerun finds these done and moves
// on. A dry run changes nothing and lists nothing.
func (r *Result) Changes() []string {
	if r == nil || r.DryRun {
		return nil
	}
	var out []string
	for _, b := range r.Buckets {
		switch b.Status {
		case BucketCreated:
			out = append(out, "created R2 bucket "+b.Name)
		case BucketCreatedOrExisted:
			out = append(out, "created (or found) R2 bucket "+b.Name)
		}
	}
	switch {
	case !r.RuntimesSynced || r.RuntimeObjectsUploaded == 0:
		// Nothing written: the bucket already held the catalog.
	case r.RuntimeCatalogChanged:
		out = append(out, "published runtime catalog "+short(r.CatalogSHA256)+" to "+r.RuntimeBucket)
	default:
		out = append(out, fmt.Sprintf("uploaded %d missing runtime object%s to %s (its catalog was already %s)",
			r.RuntimeObjectsUploaded, plural(r.RuntimeObjectsUploaded), r.RuntimeBucket, short(r.CatalogSHA256)))
	}
	if r.WranglerConfig == FileUpdated {
		out = append(out, "updated the wrangler config")
	}
	if r.Endpoint == FileUpdated {
		out = append(out, "recorded the endpoint in nimbus.yaml")
	}
	if r.SecretGenerated && r.SecretFile != "" {
		// Written before the PUT: a failed PUT leaves it, and the rerun
		// sets this same secret.
		out = append(out, "generated a new secret into "+r.SecretFile)
	}
	if r.SecretAdoptedFrom != "" && !r.DryRun {
		out = append(out, "copied the secret of "+r.SecretAdoptedFrom+" to "+r.SecretFile)
	}
	if r.Secret == SecretSet {
		out = append(out, "set the Worker secret")
	}
	if r.SecretPreviousFile != "" {
		out = append(out, "moved the secret generated before to "+r.SecretPreviousFile)
	}
	return out
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
