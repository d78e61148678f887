// Package token mints and verifies Nimbus session tokens: HS256 JWTs whose
// bytes are identical to those of the upstream TypeScript implementation
// (packages/worker/src/auth/token.ts) for the same inputs and clock, and
// whose verification follows upstream's check order exactly, so the same
// token fails the same way on both sides.
//
// The package has no global state and never reads the environment: secrets
// and the clock are fields of Issuer and Verifier.
package token
