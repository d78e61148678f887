//go:build !unix

package localsandbox

import (
	"errors"
	"os"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox/internal/sandboxinit"
)

// startPTY fails: New refuses to run where there are no POSIX terminals;
// this only keeps the package building for the release matrix.
func (sb *sandbox) startPTY(*execReq, string, int, int) (*os.File, *sandboxinit.Cmd, error) {
	return nil, nil, errors.New("terminals need a POSIX system")
}

func setPTYSize(*os.File, int, int) error { return errors.New("terminals need a POSIX system") }
