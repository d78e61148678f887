package provision

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nimbus-sh/nimbus/internal/secretfile"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// resolveSecret returns the secret value: spec.Value, else the content of
// spec.File, else a new random secret written to spec.File (0600).
func resolveSecret(spec *SecretSpec, rnd io.Reader) (value string, generated bool, _ *Error) {
	if spec.Value != "" {
		value = spec.Value
	} else {
		v, err := ReadSecretFile(spec.File)
		switch {
		case err == nil:
			value = v
		case errors.Is(err, fs.ErrNotExist):
			v, gerr := generateSecretFile(spec.File, rnd)
			if gerr != nil {
				return "", false, gerr
			}
			value, generated = v, true
		default:
			if pe, ok := AsError(err); ok {
				return "", false, pe
			}
			return "", false, &Error{Kind: KindConfig, Code: CodeSecretInvalid, Err: err,
				Message: "cannot read the secret file " + spec.File}
		}
	}
	// The Worker verifies with this secret what nimbus token mints with
	// it: one minimum for both (token.MinSecretLength).
	if len(value) < token.MinSecretLength || strings.ContainsAny(value, "\r\n") {
		return "", false, &Error{Kind: KindData, Code: CodeSecretInvalid,
			Message: fmt.Sprintf("%s must be one line of at least %d characters", spec.Name, token.MinSecretLength),
			Hint:    "generate one with `nimbus token secret`, or omit JWT_SECRET and --secret-file to let setup generate it"}
	}
	return value, generated, nil
}

// ReadSecretFile reads a secret from path with the one rule every nimbus
// command applies to secret files (package secretfile): a final line
// break is dropped; surrounding whitespace, several lines or nothing are
// refused, so the Worker's secret always equals what `nimbus token`
// reads from the same file. A missing file yields fs.ErrNotExist.
func ReadSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	v, err := secretfile.Read(f)
	var se *secretfile.Error
	if errors.As(err, &se) {
		return "", &Error{Kind: KindData, Code: CodeSecretInvalid, Message: "the secret file " + path + " " + se.Reason,
			Hint: "a secret file holds the secret alone on one line"}
	}
	return v, err
}

// generateSecretFile writes 32 random bytes as hex to path, mode 0600,
// refusing to overwrite a file that appeared meanwhile.
func generateSecretFile(path string, rnd io.Reader) (string, *Error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	buf := make([]byte, 32)
	if _, err := io.ReadFull(rnd, buf); err != nil {
		return "", &Error{Kind: KindInternal, Code: CodeSecretInvalid, Err: err, Message: "cannot read random bytes for the secret"}
	}
	value := hex.EncodeToString(buf)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", writeError(path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", writeError(path, err)
	}
	if _, err := f.WriteString(value + "\n"); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return "", writeError(path, err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(path)
		return "", writeError(path, err)
	}
	return value, nil
}
