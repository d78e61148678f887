package doctorcli

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/iostreams"
	"github.com/nimbus-sh/nimbus/pkg/doctor"
)

// On a terminal each check is a line with its hint under it, then a
// summary; a failing check makes the command exit 1 without an error
// message of its own.
func TestRunOnATerminal(t *testing.T) {
	ios, _, out, errOut := iostreams.Test()
	ios.SetStdoutTTY(true)
	f := &cmdutil.Factory{IOStreams: ios}
	d := &doctor.Doctor{KnownKeys: []string{"endpoint"}, ConfigFiles: []doctor.ConfigFile{{Path: "nimbus.yaml", Err: errors.New("yaml: bad")}}}
	err := Run(context.Background(), f, d)
	var ce *clierr.Error
	if !errors.As(err, &ce) || ce.Exit != 1 || !ce.Silent() {
		t.Fatalf("err %v", err)
	}
	got := out.String()
	for _, want := range []string{
		"- version          nimbus ; the release check is turned off\n",
		"✗ config           nimbus.yaml: yaml: bad\n                   hint: fix the YAML in nimbus.yaml, or remove the file\n",
		"! credentials      Worker: none",
		"\n0 passed, 1 warning, 1 failed, 8 skipped\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if errOut.Len() != 0 {
		t.Errorf("stderr: %s", errOut)
	}

	// For machines: the JSON report only, compact in a pipe.
	ios, _, out, _ = iostreams.Test()
	f = &cmdutil.Factory{IOStreams: ios}
	if err := Run(context.Background(), f, &doctor.Doctor{}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), `{"ok":true,"checks":[{"name":"version","status":"skip",`) || !strings.HasSuffix(out.String(), "}]}\n") {
		t.Fatalf("json: %s", out)
	}
}
