package initcmd

import (
	"context"
	"errors"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/pkg/scaffold"
)

// exitCodeOf maps a scaffold error code to the process exit code of cli.md:
// bad names and options are usage errors, a directory that cannot take the
// project is "cannot create", and failing child tools (and codes this
// does not know) are software errors.
func exitCodeOf(code string) int {
	switch code {
	case scaffold.CodeNameRequired, scaffold.CodeInvalidWorkerName, scaffold.CodeInvalidBucketName,
		scaffold.CodeInvalidPackageName, scaffold.CodeInvalidOption, scaffold.CodeUnknownTemplate:
		return exitcode.Usage
	case scaffold.CodeTargetNotEmpty, scaffold.CodeTargetConflict, scaffold.CodeWriteFailed:
		return exitcode.CantCreate
	}
	return exitcode.Software // CodeGitFailed, CodeInstallFailed
}

func toCLIError(err error) error {
	if errors.Is(err, context.Canceled) {
		return clierr.Wrap(err, exitcode.Interrupted, "E_INTERRUPTED", "interrupted; nothing was left behind", "")
	}
	var se *scaffold.Error
	if !errors.As(err, &se) {
		return err
	}
	return clierr.Wrap(err, exitCodeOf(se.Code), se.Code, se.Error(), se.Hint)
}

func ioError(err error, msg string) error {
	return clierr.Wrap(err, exitcode.CantCreate, clierr.CodeIO, msg+": "+err.Error(), "")
}
