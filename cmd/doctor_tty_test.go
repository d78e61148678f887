//go:build unix

package cmd_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/cmd"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/iostreams"
)

// TestDoctorDoesNotAskForTheTokenAtTerminal: a token file of "-" with a
// terminal on stdin (--token-file -, or NIMBUS_TOKEN_FILE=- left in the
// environment) made doctor stop at 'Secret (input hidden):' and wait,
// a diagnostic that hung instead of reporting. It now reads no terminal:
// the credentials check fails and says how to give the token instead;
// every other check still runs.
func TestDoctorDoesNotAskForTheTokenAtTerminal(t *testing.T) {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TERM=dumb"}
	for _, args := range [][]string{
		{"--token-file", "-"},
		{"--api-token-file", "-"},
	} {
		p := startPTY(t, env, append([]string{"doctor", "--no-version-check", "--endpoint", "http://127.0.0.1:9", "--timeout", "1s"}, args...)...)
		p.expect(`standard input is a terminal`)
		if code := p.exit(); code != 1 {
			t.Errorf("%v: exit %d:\n%s", args, code, p.screen())
		}
		screen := p.screen()
		if strings.Contains(screen, "Secret (input hidden)") {
			t.Errorf("%v: doctor asked for the token:\n%s", args, screen)
		}
		if !strings.Contains(screen, "< FILE") || !strings.Contains(screen, "clock") {
			t.Errorf("%v: no hint, or the report stopped:\n%s", args, screen)
		}
	}
}

// TestDoctorReadsAPipedToken: in a pipe, a token file of "-" is read as
// the other commands read it.
func TestDoctorReadsAPipedToken(t *testing.T) {
	t.Chdir(t.TempDir())
	ios, in, out, errOut := iostreams.Test()
	in.WriteString("eyJhbGciOiJIUzI1NiJ9.e30.c2ln\n")
	f := cmdutil.New()
	f.IOStreams = ios
	f.Getenv = func(k string) string { return map[string]string{"HOME": t.TempDir()}[k] }
	cmd.Run(context.Background(), f, []string{"doctor", "--no-version-check", "--endpoint", "http://127.0.0.1:9", "--timeout", "1s", "--token-file", "-"})
	if !strings.Contains(out.String(), `{"name":"credentials","status":"pass","detail":"Worker: token file (--token-file -)`) {
		t.Errorf("the piped token was not read:\n%s\n%s", out, errOut)
	}
}

// TestDoctorMissingWranglerConfigAtTerminal: a --wrangler-config that
// names no file is refused with its code and a hint on a terminal too
// (a pipe gets the bare message, testdata/doctor/wrangler_config_missing.txtar);
// it used to skip the project checks and exit 0.
func TestDoctorMissingWranglerConfigAtTerminal(t *testing.T) {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TERM=dumb"}
	p := startPTY(t, env, "doctor", "--no-version-check", "--wrangler-config", "missing.jsonc")
	p.expect(`wrangler config missing.jsonc does not exist \(E_CONFIG_MISSING\)`)
	p.expect(`hint: check the --wrangler-config path`)
	if code := p.exit(); code != 78 {
		t.Errorf("exit %d, want 78:\n%s", code, p.screen())
	}
	if strings.Contains(p.screen(), "clock") {
		t.Errorf("the checks ran:\n%s", p.screen())
	}
}
