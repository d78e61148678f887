package initcmd

import (
	"context"
	"errors"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/pkg/scaffold"
)

// exitCodes maps scaffold error codes to the process exit codes of cli.md:
// bad names and options are usage errors, a directory that cannot take the
// project is "cannot create", and failing child tools are software errors.
var exitCodes = map[string]int{
	scaffold.CodeNameRequired:       exitcode.Usage,
	scaffold.CodeInvalidWorkerName:  exitcode.Usage,
	scaffold.CodeInvalidBucketName:  exitcode.Usage,
	scaffold.CodeInvalidPackageName: exitcode.Usage,
	scaffold.CodeInvalidOption:      exitcode.Usage,
	scaffold.CodeUnknownTemplate:    exitcode.Usage,
	scaffold.CodeTargetNotEmpty:     exitcode.CantCreate,
	scaffold.CodeTargetConflict:     exitcode.CantCreate,
	scaffold.CodeWriteFailed:        exitcode.CantCreate,
	scaffold.CodeGitFailed:          exitcode.Software,
	scaffold.CodeInstallFailed:      exitcode.Software,
}

func toCLIError(err error) error {
	if errors.Is(err, context.Canceled) {
		return clierr.Wrap(err, exitcode.Interrupted, "E_INTERRUPTED", "interrupted; nothing was left behind", "")
	}
	var se *scaffold.Error
	if !errors.As(err, &se) {
		return err
	}
	exit, ok := exitCodes[se.Code]
	if !ok {
		exit = exitcode.Software
	}
	return clierr.Wrap(err, exit, se.Code, se.Error(), se.Hint)
}

func ioError(err error, msg string) error {
	return clierr.Wrap(err, exitcode.CantCreate, clierr.CodeIO, msg+": "+err.Error(), "")
}
