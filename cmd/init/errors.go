package initcmd

import (
	"context"
	"errors"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
)

// toCLIError reports an interruption as init's own (nothing is left
// behind: the scaffold rolls back); *scaffold.Error classifies itself
// (clierr.Classified).
func toCLIError(err error) error {
	if errors.Is(err, context.Canceled) {
		return clierr.Wrap(err, exitcode.Interrupted, "E_INTERRUPTED", "interrupted; nothing was left behind", "")
	}
	if ce, ok := clierr.From(err); ok {
		return ce
	}
	return err
}

func ioError(err error, msg string) error {
	return clierr.Wrap(err, exitcode.CantCreate, clierr.CodeIO, msg+": "+err.Error(), "")
}
