package job_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/job"
)

// badSpec is a Spec that Validate refuses, with the SpecError it must give.
type badSpec struct {
	name string
	goos string // "" for this system's rules
	spec job.Spec
	want job.SpecError // Reason is matched as a substring
}

// badSpecs are the mistakes sandbox run refuses in its flags, made by a Go
// caller: each used to reach the sandbox (an empty download Remote brought
// back the command's whole working directory).
var badSpecs = []badSpec{
	{"empty download remote", "", job.Spec{Downloads: []job.Download{{Remote: ""}}},
		job.SpecError{Field: job.FieldDownloads, Path: "Remote", Empty: true, Reason: "names no sandbox path"}},
	{"blank download remote, second entry", "", job.Spec{Downloads: []job.Download{{Remote: "out"}, {Remote: " ", Local: "out"}}},
		job.SpecError{Field: job.FieldDownloads, Index: 1, Path: "Remote", Empty: true, Reason: "names no sandbox path"}},
	{"empty upload local", "", job.Spec{Uploads: []job.Upload{{Local: "", Remote: "app"}}},
		job.SpecError{Field: job.FieldUploads, Path: "Local", Empty: true, Reason: "names no local path"}},
	{"blank upload local, second entry", "", job.Spec{Uploads: []job.Upload{{Local: "."}, {Local: "\t"}}},
		job.SpecError{Field: job.FieldUploads, Index: 1, Path: "Local", Empty: true, Reason: "names no local path"}},
	{"windows upload remote with a drive", "windows", job.Spec{Uploads: []job.Upload{{Local: ".", Remote: "C:/Program Files/Git/home/user/app"}}},
		job.SpecError{Field: job.FieldUploads, Path: "Remote", Reason: "MSYS_NO_PATHCONV=1"}},
	{"windows upload remote with a backslash", "windows", job.Spec{Uploads: []job.Upload{{Local: ".", Remote: `app\src`}}},
		job.SpecError{Field: job.FieldUploads, Path: "Remote", Reason: "not '\\'"}},
	{"windows download remote with a drive", "windows", job.Spec{Downloads: []job.Download{{Remote: `C:\out`}}},
		job.SpecError{Field: job.FieldDownloads, Path: "Remote", Reason: "not a Windows path"}},
	{"windows download remote with a backslash", "windows", job.Spec{Downloads: []job.Download{{Remote: `out\junit.xml`}}},
		job.SpecError{Field: job.FieldDownloads, Path: "Remote", Reason: "not '\\'"}},
	{"empty runtime", "", job.Spec{Runtimes: []string{"python@3.12", ""}},
		job.SpecError{Field: job.FieldRuntimes, Index: 1, Empty: true, Reason: "is empty"}},
	{"blank runtime", "", job.Spec{Runtimes: []string{" "}},
		job.SpecError{Field: job.FieldRuntimes, Empty: true, Reason: "is empty"}},
	{"empty env name", "", job.Spec{Env: map[string]string{"": "v", "OK": "v"}},
		job.SpecError{Field: job.FieldEnv, Empty: true, Reason: "[A-Za-z_]"}},
	{"env name a shell cannot export", "", job.Spec{Env: map[string]string{"A-B": "v"}},
		job.SpecError{Field: job.FieldEnv, Path: "A-B", Reason: "[A-Za-z_]"}},
	{"env name holding a value", "", job.Spec{Env: map[string]string{"TOKEN=s3cret": ""}},
		job.SpecError{Field: job.FieldEnv, Path: "TOKEN=…", Reason: "[A-Za-z_]"}},
	{"negative timeout", "", job.Spec{Timeout: -time.Second},
		job.SpecError{Field: job.FieldTimeout, Reason: "negative"}},
	// `-- "$CMD"` with CMD unset: the shell runs an empty line, exit 0.
	{"empty command", "", job.Spec{Command: ""},
		job.SpecError{Field: job.FieldCommand, Empty: true, Reason: "report success"}},
	{"blank command", "", job.Spec{Command: " \n\t"},
		job.SpecError{Field: job.FieldCommand, Empty: true, Reason: "is empty"}},
	// The first mistake, in the order sandbox run checks its flags.
	{"uploads before downloads before runtimes", "", job.Spec{Runtimes: []string{""}, Downloads: []job.Download{{}}, Uploads: []job.Upload{{}}},
		job.SpecError{Field: job.FieldUploads, Path: "Local", Empty: true, Reason: "names no local path"}},
}

// checkSpecError checks that err is the *SpecError want describes, with
// the stable code of a usage error, and says no secret.
func checkSpecError(t *testing.T, c badSpec, err error) {
	t.Helper()
	var se *job.SpecError
	if !errors.As(err, &se) {
		t.Fatalf("%s: error %T %v; want a *job.SpecError", c.name, err, err)
	}
	got := *se
	if got.Field != c.want.Field || got.Index != c.want.Index || got.Path != c.want.Path || got.Empty != c.want.Empty || !strings.Contains(got.Reason, c.want.Reason) {
		t.Errorf("%s: %+v; want %+v", c.name, got, c.want)
	}
	var coded interface{ ErrorCode() string }
	if !errors.As(err, &coded) || coded.ErrorCode() != "E_USAGE" || job.CodeInvalidSpec != "E_USAGE" {
		t.Errorf("%s: code of %v; want E_USAGE", c.name, err)
	}
	if msg := err.Error(); !strings.Contains(msg, c.want.Field) || strings.Contains(msg, "s3cret") {
		t.Errorf("%s: message %q", c.name, msg)
	}
}

func TestValidateRefusesBadSpecs(t *testing.T) {
	for _, c := range badSpecs {
		t.Run(c.name, func(t *testing.T) {
			if c.goos != "" {
				job.SetLocalOS(t, c.goos)
			}
			checkSpecError(t, c, c.spec.Validate())
		})
	}
}

// Specs sandbox run has always taken stay valid: an empty upload Remote is
// the sandbox root, an empty download Local the current directory, and a
// '\' is a name character in a sandbox path typed on a system other than
// Windows.
func TestValidateAcceptsGoodSpecs(t *testing.T) {
	for _, goos := range []string{"linux", "windows"} {
		job.SetLocalOS(t, goos)
		for _, s := range []job.Spec{
			{Command: "true"},
			{Command: "make test"},
			{Uploads: []job.Upload{{Local: "."}, {Local: "one.txt", Remote: "/home/user/extra/"}},
				Downloads: []job.Download{{Remote: "junit.xml"}, {Remote: "dist", Local: `D:\out`}},
				Runtimes:  []string{"python@3.12"}, Env: map[string]string{"_A1": ""}, Timeout: time.Minute, Command: "make test"},
		} {
			if err := s.Validate(); err != nil {
				t.Errorf("%s: %+v: %v", goos, s, err)
			}
		}
	}
	job.SetLocalOS(t, "linux")
	s := job.Spec{Uploads: []job.Upload{{Local: ".", Remote: `app\src`}}, Downloads: []job.Download{{Remote: `out\x`}}, Command: "true"}
	if err := s.Validate(); err != nil {
		t.Errorf("linux: %v", err)
	}
}
