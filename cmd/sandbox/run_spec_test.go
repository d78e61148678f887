package sandbox

import (
	"errors"
	"testing"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/job"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

// TestSpecErrorSaysTheFlag: a spec job.Spec.Validate refuses is said as
// the flag it came from, quoted as typed, with the messages and hints
// sandbox run gave when it made these checks itself (the Windows ones,
// which a binary only makes on Windows, included): a usage error (E_USAGE)
// that exits 125.
func TestSpecErrorSaysTheFlag(t *testing.T) {
	winDrive := transfer.SandboxPathProblem("windows", "C:/app")
	winSlash := transfer.SandboxPathProblem("windows", `app\src`)
	uploads := []string{".:app", ":app", `.:app\src`}
	downloads := []string{"out", "", "C:/app:out"}
	for _, c := range []struct {
		se        job.SpecError
		msg, hint string
	}{
		{job.SpecError{Field: job.FieldUploads, Index: 1, Path: "Local", Empty: true},
			`--upload ":app" names no local path`, "--upload LOCAL[:SANDBOX], e.g. --upload . or --upload .:app"},
		{job.SpecError{Field: job.FieldUploads, Index: 2, Path: "Remote", Reason: winSlash},
			`--upload ".:app\\src": ` + winSlash, "--upload LOCAL[:SANDBOX], e.g. --upload .:app"},
		{job.SpecError{Field: job.FieldDownloads, Index: 1, Path: "Remote", Empty: true},
			`--download "" names no sandbox path`, "--download SANDBOX[:LOCAL], e.g. --download junit.xml or --download dist:./dist"},
		{job.SpecError{Field: job.FieldDownloads, Index: 2, Path: "Remote", Reason: winDrive},
			`--download "C:/app:out": ` + winDrive, "--download SANDBOX[:LOCAL], e.g. --download dist:./dist"},
		{job.SpecError{Field: job.FieldRuntimes, Index: 0, Empty: true},
			"--runtime is empty", "name a runtime: NAME or NAME@VERSION, e.g. --runtime python@3.12"},
	} {
		se := c.se
		var ce *clierr.Error
		if err := specError(&se, uploads, downloads); !errors.As(err, &ce) {
			t.Fatalf("%+v: %T %v", c.se, err, err)
		}
		if ce.Message != c.msg || ce.Hint != c.hint || ce.Code != clierr.CodeUsage || ce.Exit != exitcode.ExecFailed || !ce.Plain {
			t.Errorf("%+v: %+v; want %q, hint %q", c.se, ce, c.msg, c.hint)
		}
	}
}
