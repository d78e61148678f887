package cmdutil

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/secretfile"
)

// ReadSecretFile reads a secret or token from path ("-" is standard input)
// with the one rule of package secretfile: a final line break is dropped,
// anything else odd (surrounding whitespace, several lines, nothing) is
// refused. The content is never included in errors.
func ReadSecretFile(path string, stdin io.Reader) (string, error) {
	var r io.Reader
	if path == "-" {
		r = stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return "", clierr.New(exitcode.Config, clierr.CodeConfigMissing, fmt.Sprintf("secret file %s does not exist", path), "check the path given to the --*-file flag")
			}
			return "", clierr.Wrap(err, exitcode.Config, clierr.CodeIO, fmt.Sprintf("cannot read %s: %v", path, unwrapPathError(err)), "")
		}
		defer f.Close()
		r = f
	}
	v, err := secretfile.Read(r)
	var se *secretfile.Error
	switch {
	case errors.As(err, &se):
		name := path
		if path == "-" {
			name = "standard input"
		}
		return "", clierr.New(exitcode.DataErr, CodeSecretInvalid, fmt.Sprintf("%s %s", name, se.Reason), "a secret or token file holds the value alone on one line")
	case err != nil:
		return "", clierr.Wrap(err, exitcode.Config, clierr.CodeIO, fmt.Sprintf("cannot read %s: %v", path, unwrapPathError(err)), "")
	}
	return v, nil
}

// CodeSecretInvalid is the code of a secret or token file whose content
// breaks the rule of package secretfile.
const CodeSecretInvalid = "E_SECRET_INVALID"

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
