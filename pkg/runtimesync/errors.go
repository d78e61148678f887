package runtimesync

import "github.com/nimbus-sh/nimbus/internal/errkind"

// Kind classifies an Error by what the user has to do about it; it is the
// kind all of nimbus's libraries share, and ExitCode gives its exit code.
type Kind = errkind.Kind

// The kinds a sync or list returns.
const (
	// KindInternal is a bug or an unexpected state (exit 70).
	KindInternal = errkind.Internal
	// KindUsage means an unknown or ambiguous runtime was asked for (64).
	KindUsage = errkind.Usage
	// KindData means a package, manifest, blob or catalog failed a check
	// (65): nothing from it was uploaded.
	KindData = errkind.Data
	// KindUnavailable means the runtime is not published as a package, or
	// the npm registry failed (69).
	KindUnavailable = errkind.Unavailable
	// KindConfig means something must be set up first, e.g. the bucket,
	// or npm's registry setting names something that is not a registry (78).
	KindConfig = errkind.Config
	// KindCantCreate means the local cache could not be written (73).
	KindCantCreate = errkind.CantCreate
	// KindConflict means the bucket's catalog changed during the sync in a
	// way that publishing would undo (75: rerun).
	KindConflict = errkind.Conflict
	// KindInterrupted means the context was cancelled (130).
	KindInterrupted = errkind.Interrupted
)

// Stable error codes.
const (
	// CodeUnknownRuntime: the spec is not a valid runtime name[@version],
	// names no runtime package on the registry, or matches no version or
	// more than one.
	CodeUnknownRuntime = "E_RUNTIME_UNKNOWN"
	// CodeUnpublished: the upstream publisher builds this runtime but
	// publishes no npm package for it (Pyodide python, ruby), so it
	// cannot be synced from npm.
	CodeUnpublished = "E_RUNTIME_UNPUBLISHED"
	// CodeIntegrity: a tarball does not match the integrity the registry
	// lists for it.
	CodeIntegrity = "E_NPM_INTEGRITY"
	// CodeBlobMismatch: a blob in a package differs from what the
	// package's manifest.json says; nothing was uploaded.
	CodeBlobMismatch = "E_BLOB_MISMATCH"
	// CodePackageInvalid: a runtime package or its manifest is malformed.
	CodePackageInvalid = "E_PACKAGE_INVALID"
	// CodeCatalogInvalid: a catalog document is not a valid catalog.
	CodeCatalogInvalid = "E_CATALOG_INVALID"
	// CodeCatalogConflict: the bucket's catalog changed during the sync
	// and publishing would drop runtimes from it; rerunning merges.
	CodeCatalogConflict = "E_CATALOG_CONFLICT"
	// CodeCatalogPin: a catalog digest is malformed, missing from the
	// bucket, or does not match the catalog stored under it.
	CodeCatalogPin = "E_CATALOG_PIN"
	// CodeBucketMissing: the R2 bucket does not exist.
	CodeBucketMissing = "E_BUCKET_MISSING"
	// CodeRegistry: the npm registry could not be reached or answered
	// with an error.
	CodeRegistry = "E_NPM_UNAVAILABLE"
	// CodeRegistryInvalid: the npm registry answered something no
	// registry answers (not a packument, a 4xx refusing the request, a
	// tarball over the size limit), so a rerun would fail the same way.
	CodeRegistryInvalid = "E_NPM_INVALID"
	// CodeCache: the local tarball cache could not be written.
	CodeCache = "E_CACHE"
	// CodeInterrupted: the context was cancelled.
	CodeInterrupted = "E_INTERRUPTED"
	// CodeInternal: a bug in nimbus, such as an inconsistent plan.
	CodeInternal = "E_INTERNAL"
	// CodeManifestMismatch: a package holds another runtime or version
	// than the one asked for; nothing was uploaded.
	CodeManifestMismatch = "E_MANIFEST_MISMATCH"
)

// Error is a sync or list failure. Cloudflare failures keep their own
// *provision.Error type, which says which permission or setting is missing.
type Error struct {
	// Kind classifies the failure; each Kind maps to an exit status (see
	// the Kind constants).
	Kind Kind
	// Code is one of the Code constants, stable for scripts.
	Code string
	// Message says what failed, naming the package, key or bucket.
	Message string
	// Hint says what to do about it; empty when there is nothing useful
	// to add.
	Hint string
	// Err is the underlying cause, if any.
	Err error
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ExitCode is the sysexits(3) status of e's Kind (see the Kind
// constants).
func (e *Error) ExitCode() int { return e.Kind.ExitCode() }

// ErrorCode returns Code.
func (e *Error) ErrorCode() string { return e.Code }

// ErrorHint returns Hint.
func (e *Error) ErrorHint() string { return e.Hint }

// AsError reports whether err is (or wraps) an *Error.
func AsError(err error) (*Error, bool) { return errkind.As[*Error](err) }
