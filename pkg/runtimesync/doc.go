// Package runtimesync publishes Nimbus language runtimes into an R2 bucket
// and pins them, natively: it fetches the runtime packages the upstream
// publisher puts on npm (@nimbus-sh/runtime-<name>), checks each tarball
// against the registry's integrity and every blob against the package's
// manifest, uploads the blobs the bucket lacks (keys are content-addressed),
// then the manifest, then the catalog under its SHA-256
// (catalog/sha256/<digest>.json) and finally catalog/v1.json. The digest is
// what a Worker pins in NIMBUS_RUNTIME_CATALOG_SHA256.
//
// Nothing is held in memory whole: tarballs stream to a cache (verified
// before use and reused by later syncs) and blobs stream from staging files
// to the bucket. The package never prints; progress goes to an Observer and
// failures are *Error values (or the *provision.Error of a Cloudflare call)
// with stable codes.
package runtimesync
