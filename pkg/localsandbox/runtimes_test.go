//go:build unix

package localsandbox_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
)

// TestListRuntimesRetriesAFailedVersion: a runtime whose `--version`
// fails (as it does when the machine is briefly out of processes) is
// listed without a version, and asked again on the next listRuntimes
// rather than kept versionless for the life of the server; once it has
// answered, its version is kept and it is not asked again.
func TestListRuntimesRetriesAFailedVersion(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok")
	asked := filepath.Join(dir, "asked")
	// A python3 that fails until ok exists, and counts the times it is
	// asked in asked.
	script := "#!/bin/sh\necho x >> '" + asked + "'\n[ -e '" + ok + "' ] || exit 1\necho 'Python 3.12.7'\n"
	if err := os.WriteFile(filepath.Join(dir, "python3"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	_, hs := newServer(t, func(o *localsandbox.Options) {
		o.HostEnv = []string{"PATH=" + dir + ":/usr/bin:/bin"}
		o.Isolation = localsandbox.IsolationHostPaths
	})
	sb := box(t, hs.URL, "rt-retry")
	pythonVersion := func() string {
		t.Helper()
		rts, err := sb.ListRuntimes(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, rt := range rts.Installed {
			if rt.Name == "python" {
				return rt.Version
			}
		}
		t.Fatalf("no python in %+v", rts.Installed)
		return ""
	}
	timesAsked := func() int {
		b, err := os.ReadFile(asked)
		if err != nil {
			t.Fatal(err)
		}
		return len(b) / 2
	}
	if v := pythonVersion(); v != "" {
		t.Fatalf("version %q from a failing --version", v)
	}
	if err := os.WriteFile(ok, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if v := pythonVersion(); v != "3.12.7" {
		t.Fatalf("after --version works again: version %q, want 3.12.7", v)
	}
	if v := pythonVersion(); v != "3.12.7" {
		t.Fatalf("version %q on the third call", v)
	}
	if n := timesAsked(); n != 2 {
		t.Fatalf("--version asked %d times, want 2 (the failure, then the answer kept)", n)
	}
}
