package provision

import (
	"path/filepath"
	"testing"
)

// TestSecretFilesAreFilesOnWindows: a Worker may be named "con", "nul",
// "aux", "com1" or "lpt1". On Windows (its rules applied here by
// localOS) "con.jwt-secret" is the console: a generated secret would be
// shown there and lost, so its files get names of their own. Every other
// Worker name keeps the file it had, on every system.
func TestSecretFilesAreFilesOnWindows(t *testing.T) {
	const acct = "0123456789abcdef0123456789abcdef"
	for _, c := range []struct {
		goos, worker              string
		generated, legacy, record string
	}{
		{"windows", "con", "con+.jwt-secret", "con+.jwt-secret", "con+.jwt-secret-given"},
		{"windows", "nul", "nul+.jwt-secret", "nul+.jwt-secret", "nul+.jwt-secret-given"},
		{"windows", "aux", "aux+.jwt-secret", "aux+.jwt-secret", "aux+.jwt-secret-given"},
		{"windows", "com1", "com1+.jwt-secret", "com1+.jwt-secret", "com1+.jwt-secret-given"},
		{"windows", "lpt1", "lpt1+.jwt-secret", "lpt1+.jwt-secret", "lpt1+.jwt-secret-given"},
		{"windows", "my-app", "my-app.jwt-secret", "my-app.jwt-secret", "my-app.jwt-secret-given"},
		{"windows", "console", "console.jwt-secret", "console.jwt-secret", "console.jwt-secret-given"},
		{"linux", "con", "con.jwt-secret", "con.jwt-secret", "con.jwt-secret-given"},
		{"darwin", "my-app", "my-app.jwt-secret", "my-app.jwt-secret", "my-app.jwt-secret-given"},
	} {
		t.Run(c.goos+"/"+c.worker, func(t *testing.T) {
			old := localOS
			localOS = c.goos
			t.Cleanup(func() { localOS = old })
			dir := filepath.Join("secrets")
			if got, want := GeneratedSecretFile(dir, acct, c.worker), filepath.Join(dir, acct, c.generated); got != want {
				t.Errorf("GeneratedSecretFile = %q, want %q", got, want)
			}
			if got, want := LegacySecretFile(dir, c.worker), filepath.Join(dir, c.legacy); got != want {
				t.Errorf("LegacySecretFile = %q, want %q", got, want)
			}
			if got, want := givenSecretRecord(dir, acct, c.worker), filepath.Join(dir, acct, c.record); got != want {
				t.Errorf("givenSecretRecord = %q, want %q", got, want)
			}
		})
	}
}
