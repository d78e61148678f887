// Package scaffold builds Nimbus Worker projects: the wrangler configuration
// (an equivalent of upstream @nimbus-sh/config buildNimbusWranglerConfig), the
// six project files rendered from the embedded templates, and a plan/apply
// split that writes them atomically and rolls back on failure.
//
// The package never prints, never reads the environment or configuration
// files, and reports problems as *Error values carrying stable codes, so that
// both `nimbus init` and `nimbus setup cloudflare` can use it.
package scaffold
