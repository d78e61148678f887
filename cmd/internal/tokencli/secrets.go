package tokencli

import (
	"io"

	"github.com/nimbus-sh/nimbus/internal/cmdutil"
)

// Secret environment variables.
const (
	EnvSecret         = "JWT_SECRET"
	EnvPreviousSecret = "JWT_SECRET_PREVIOUS"
)

// Secrets are the HMAC keys resolved for a command.
type Secrets struct {
	Current  string
	Previous string
}

// LoadSecrets resolves the current secret from file (when set) or
// JWT_SECRET, and the previous one from previousFile or
// JWT_SECRET_PREVIOUS. Secrets are never taken from a flag value, so they
// cannot leak through argv or shell history.
func LoadSecrets(getenv func(string) string, stdin io.Reader, file, previousFile string) (Secrets, error) {
	var s Secrets
	var err error
	if file != "" {
		if s.Current, err = cmdutil.ReadSecretFileFrom(file, "secret file", "--secret-file", stdin); err != nil {
			return s, err
		}
	} else {
		s.Current = getenv(EnvSecret)
	}
	if previousFile != "" {
		if s.Previous, err = cmdutil.ReadSecretFileFrom(previousFile, "secret file", "--previous-secret-file", stdin); err != nil {
			return s, err
		}
	} else {
		s.Previous = getenv(EnvPreviousSecret)
	}
	return s, nil
}
