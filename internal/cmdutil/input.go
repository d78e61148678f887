package cmdutil

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
)

// maxSecretSize bounds what is read from a secret or token file so a wrong
// path (a disk image, /dev/zero) fails fast instead of eating memory.
const maxSecretSize = 64 << 10

// ReadSecretFile reads a secret or token from path ("-" is standard input).
// One trailing newline (LF or CRLF) is removed, because editors and
// `echo … > file` add one that is never part of the secret. The content is
// never included in errors.
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
	data, err := io.ReadAll(io.LimitReader(r, maxSecretSize+1))
	if err != nil {
		return "", clierr.Wrap(err, exitcode.Config, clierr.CodeIO, fmt.Sprintf("cannot read %s: %v", path, unwrapPathError(err)), "")
	}
	if len(data) > maxSecretSize {
		return "", clierr.New(exitcode.Usage, clierr.CodeUsage, fmt.Sprintf("%s is larger than %d KiB; it does not look like a secret", path, maxSecretSize>>10), "")
	}
	s := strings.TrimSuffix(string(data), "\n")
	s = strings.TrimSuffix(s, "\r")
	return s, nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
