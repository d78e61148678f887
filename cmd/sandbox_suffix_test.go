//go:build unix

package cmd_test

import (
	"strings"
	"testing"
)

// TestPreviewHostSuffixKeepsLocal (unix, as TestJSONEverywhere: the local
// backend needs a POSIX shell): ports expose with --preview-host-suffix
// builds its client as every other sandbox command does, so --local still
// means the in-process backend. It used to build one of its own that
// knew nothing of --local (nor of the write limit): the request went to
// the Worker of NIMBUS_ENDPOINT, --local --endpoint was no longer refused,
// and with no endpoint configured it failed for want of one (78).
func TestPreviewHostSuffixKeepsLocal(t *testing.T) {
	worker, hits := unexpectedWorker(t)
	work := t.TempDir()
	expose := []string{"sandbox", "ports", "expose", "--local", "--preview-host-suffix", "p.example.com", "job-1", "3000"}

	for _, tc := range []struct {
		name  string
		env   []string
		extra []string
		code  int
		want  string
	}{
		// The local backend answers: it serves no previews (65).
		{"no endpoint", nil, nil, 65, "port previews are not available with this backend"},
		{"NIMBUS_ENDPOINT set", []string{"NIMBUS_ENDPOINT=" + worker, "NIMBUS_TOKEN=tok"}, nil, 65, "port previews are not available with this backend"},
		// As without the suffix: the two flags cannot be combined (64).
		{"--endpoint", []string{"NIMBUS_TOKEN=tok"}, []string{"--endpoint", worker}, 64, "--local and --endpoint cannot be combined"},
	} {
		code, stdout, stderr := runJSON(t, work, append(sandboxEnv(work), tc.env...), append(append([]string{}, expose...), tc.extra...)...)
		if code != tc.code || len(stdout) != 0 || !strings.Contains(string(stderr), tc.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %s; want %d and %q", tc.name, code, stdout, stderr, tc.code, tc.want)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the Worker was sent %d request(s) for --local", n)
	}
}

// TestPreviewHostSuffixListKeepsLocal: ports list takes
// --preview-host-suffix as ports expose does, through the one client, so
// --local still answers in-process and the Worker of NIMBUS_ENDPOINT is
// never asked. (ports wait refuses --local: it needs a backend that
// outlives the command.)
func TestPreviewHostSuffixListKeepsLocal(t *testing.T) {
	worker, hits := unexpectedWorker(t)
	work := t.TempDir()
	env := append(sandboxEnv(work), "NIMBUS_ENDPOINT="+worker, "NIMBUS_TOKEN=tok")
	code, stdout, stderr := runJSON(t, work, env, "sandbox", "ports", "list", "--local", "--preview-host-suffix", "p.example.com", "job-1")
	if code != 0 || strings.TrimSpace(string(stdout)) != "[]" {
		t.Errorf("exit %d, stdout %q, stderr %s; want 0 and []", code, stdout, stderr)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the Worker was sent %d request(s) for --local", n)
	}
}
