package runtimesync

import "errors"

// Kind classifies an Error by what the user has to do about it.
type Kind int

const (
	// KindInternal is a bug or an unexpected state (exit 70).
	KindInternal Kind = iota
	// KindUsage means an unknown or ambiguous runtime was asked for (64).
	KindUsage
	// KindData means a package, manifest, blob or catalog failed a check
	// (65): nothing from it was uploaded.
	KindData
	// KindUnavailable means the runtime is not published as a package, or
	// the npm registry failed (69).
	KindUnavailable
	// KindConfig means something must be set up first, e.g. the bucket (78).
	KindConfig
	// KindCantCreate means the local cache could not be written (73).
	KindCantCreate
	// KindConflict means the bucket's catalog changed during the sync in a
	// way that publishing would undo (75: rerun).
	KindConflict
	// KindInterrupted means the context was cancelled (130).
	KindInterrupted
)

// Stable error codes.
const (
	CodeUnknownRuntime   = "E_RUNTIME_UNKNOWN"
	CodeUnpublished      = "E_RUNTIME_UNPUBLISHED"
	CodeIntegrity        = "E_NPM_INTEGRITY"
	CodeBlobMismatch     = "E_BLOB_MISMATCH"
	CodePackageInvalid   = "E_PACKAGE_INVALID"
	CodeCatalogInvalid   = "E_CATALOG_INVALID"
	CodeCatalogConflict  = "E_CATALOG_CONFLICT"
	CodeCatalogPin       = "E_CATALOG_PIN"
	CodeBucketMissing    = "E_BUCKET_MISSING"
	CodeRegistry         = "E_NPM_UNAVAILABLE"
	CodeCache            = "E_CACHE"
	CodeInterrupted      = "E_INTERRUPTED"
	CodeInternal         = "E_INTERNAL"
	CodeManifestMismatch = "E_MANIFEST_MISMATCH"
)

// Error is a sync or list failure. Cloudflare failures keep their own
// *provision.Error type, which says which permission or setting is missing.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Hint    string
	Err     error
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// AsError reports whether err is (or wraps) an *Error.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}
