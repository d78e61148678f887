// Package sandboxclient is a Go client for the remote sandbox HTTP API of a
// deployed Nimbus Worker (POST {endpoint}{basePath}/sandboxes/{id}/rpc).
//
// It mirrors the upstream TypeScript SDK (Nimbus.connect(...).sandbox(id)):
// one memoised ready per handle, the SDK's exec option normalisation, the
// bytes wire type and the binary exec stream. Where nimbus deliberately
// differs from the SDK (see the "nimbus decisions" of the spec) it follows
// nimbus: redirects are never followed, safe operations are retried on 503
// with Retry-After, and large files are streamed and chunked.
//
// The package never prints and never reads the environment; credentials come
// from a TokenSource supplied by the caller.
package sandboxclient
