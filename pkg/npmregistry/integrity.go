package npmregistry

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"strings"
)

// Integrity is one Subresource Integrity hash, e.g. the sha512 of a tarball.
type Integrity struct {
	// Algorithm is "sha512", "sha384" or "sha256".
	Algorithm string
	// Digest is the raw hash bytes, decoded from the SRI base64.
	Digest []byte
}

var algorithmRank = map[string]int{"sha256": 1, "sha384": 2, "sha512": 3}

// ParseIntegrity reads an SRI string ("sha512-<base64>", possibly several
// space-separated hashes with ?options) and keeps the strongest hash it
// supports, as npm's ssri does. SHA-1 alone (very old packages) is refused:
// it does not protect against a forged tarball.
func ParseIntegrity(s string) (Integrity, error) {
	var best Integrity
	for _, tok := range strings.Fields(s) {
		algo, rest, ok := strings.Cut(tok, "-")
		if !ok || algorithmRank[algo] == 0 {
			continue
		}
		b64, _, _ := strings.Cut(rest, "?")
		d, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(d) != newHash(algo).Size() {
			continue
		}
		if algorithmRank[algo] > algorithmRank[best.Algorithm] {
			best = Integrity{Algorithm: algo, Digest: d}
		}
	}
	if best.Algorithm == "" {
		return Integrity{}, &Error{Kind: KindIntegrity, Code: CodeIntegrity,
			Message: "no usable sha512, sha384 or sha256 integrity in " + quote(s)}
	}
	return best, nil
}

func newHash(algo string) hash.Hash {
	switch algo {
	case "sha512":
		return sha512.New()
	case "sha384":
		return sha512.New384()
	default:
		return sha256.New()
	}
}

// New returns a hash of the integrity's algorithm.
func (i Integrity) New() hash.Hash { return newHash(i.Algorithm) }

// Matches reports whether sum (the output of a New hash) is the digest.
func (i Integrity) Matches(sum []byte) bool { return bytes.Equal(i.Digest, sum) }

// String returns the SRI form, e.g. "sha512-…".
func (i Integrity) String() string {
	return i.Algorithm + "-" + base64.StdEncoding.EncodeToString(i.Digest)
}

// Name is a file-name-safe form ("sha512-<hex>"), used to address caches.
func (i Integrity) Name() string { return i.Algorithm + "-" + hex.EncodeToString(i.Digest) }

// IsZero reports whether i holds no hash.
func (i Integrity) IsZero() bool { return i.Algorithm == "" }
