package provision

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestGivenSecretRecordIsASlowHash: the record of a secret given in CI is
// the only trace of it on the machine, and a secret a person chose may
// be a phrase. A salted SHA-256 (the first version) let whoever reads the
// record test guesses at hash speed; the record holds PBKDF2-HMAC-SHA256
// with the work factor it names, and still tells the same secret from
// another.
func TestGivenSecretRecordIsASlowHash(t *testing.T) {
	dir := t.TempDir()
	const secret = "correct horse battery staple, twice over"
	rememberSecret(dir, "acct", "demo", secret)
	data, err := os.ReadFile(givenSecretRecord(dir, "acct", "demo"))
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSuffix(string(data), "\n")
	if strings.Contains(line, secret) {
		t.Fatal("the record holds the secret")
	}
	parts := strings.Split(line, ":")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		t.Fatalf("record %q: want pbkdf2-sha256:<rounds>:<salt>:<key>", line)
	}
	rounds, err := strconv.Atoi(parts[1])
	if err != nil || rounds < 600_000 {
		t.Fatalf("record %q: want at least 600,000 rounds", line)
	}
	salt, err := hex.DecodeString(parts[2])
	if err != nil || len(salt) < 16 {
		t.Fatalf("record %q: want a salt of 16 bytes or more", line)
	}
	key, err := pbkdf2.Key(sha256.New, secret, salt, rounds, sha256.Size)
	if err != nil || hex.EncodeToString(key) != parts[3] {
		t.Fatalf("record %q is not PBKDF2-HMAC-SHA256 of the secret", line)
	}
	if !knownSecret(dir, "acct", "demo", secret) {
		t.Fatal("the same secret is not recognised")
	}
	if knownSecret(dir, "acct", "demo", secret+"!") {
		t.Fatal("another secret is taken for the recorded one")
	}
}
