package provision

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"

	"github.com/nimbus-sh/nimbus/internal/atomicfile"
)

// givenSecretExt ends the name of the record of the secret last given for
// a Worker (next to its generated secret file): a salted SHA-256, never
// the secret, so the record is worth nothing to whoever reads it.
const givenSecretExt = ".jwt-secret-given"

// givenSecretRecord is where setup remembers the secret last given (or
// put) for worker in account accountID, under dir (SecretSpec.Dir).
func givenSecretRecord(dir, accountID, worker string) string {
	return filepath.Join(dir, accountID, worker+givenSecretExt)
}

// fingerprint is the record's line for value with salt.
func fingerprint(salt []byte, value string) string {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(value))
	return "sha256:" + hex.EncodeToString(salt) + ":" + hex.EncodeToString(h.Sum(nil))
}

// knownSecret reports whether value is the secret this machine already
// knows for the Worker: the one setup generated for it, or the one last
// given or put (its record). A Worker's secret cannot be read back, so
// this is what "the same secret again" can mean: a rerun handing over the
// secret it handed over before has nothing new to be warned about.
func knownSecret(dir, accountID, worker, value string) bool {
	if dir == "" {
		return false
	}
	if v, err := ReadSecretFile(GeneratedSecretFile(dir, accountID, worker)); err == nil && v == value {
		return true
	}
	data, err := os.ReadFile(givenSecretRecord(dir, accountID, worker))
	if err != nil {
		return false
	}
	line := strings.TrimSuffix(string(data), "\n")
	parts := strings.Split(line, ":")
	if len(parts) != 3 || parts[0] != "sha256" {
		return false
	}
	salt, err := hex.DecodeString(parts[1])
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(fingerprint(salt, value)), []byte(line)) == 1
}

// rememberSecret records value as the secret given or put for the Worker
// (mode 0600, replaced atomically). A failure only means the next rerun
// warns again, so it is ignored.
func rememberSecret(dir, accountID, worker, value string) {
	if dir == "" || knownSecret(dir, accountID, worker, value) {
		return
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return
	}
	path := givenSecretRecord(dir, accountID, worker)
	if ensureSecretDir(filepath.Dir(path)) != nil {
		return
	}
	_ = atomicfile.WriteFile(path, []byte(fingerprint(salt, value)+"\n"), atomicfile.Options{Perm: 0o600, Exact: true})
}
