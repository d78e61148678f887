// Package npmregistry fetches packages from an npm registry the way the npm
// client does: the packument from the registry npm is configured with, then
// a version's dist.tarball, hashed while it streams and checked against
// dist.integrity (Subresource Integrity, sha512 for current packages) before
// the caller may use a byte of it.
//
// It never reads the environment or npm's configuration files itself:
// ParseNpmrc and ResolveRegistry turn what the caller read into a registry
// URL, with npm's precedence.
package npmregistry
