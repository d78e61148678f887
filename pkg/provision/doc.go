// Package provision takes a Nimbus project from "scaffolded" to "ready to
// deploy" through the Cloudflare API: it verifies the token, resolves the
// account, creates the missing R2 buckets, writes account_id into
// wrangler.jsonc, works out the workers.dev URL and can put JWT_SECRET on
// the Worker.
//
// It uses cloudflare-go v6 service subpackages built from explicit options
// (never the root package, which reads CLOUDFLARE_* variables and links
// every product), and a small envelope helper for the R2 object calls v6
// lacks. It never prints: progress goes to an Observer, failures are *Error
// values with stable codes.
package provision
