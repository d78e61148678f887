//go:build unix

package localsandbox_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

const tsCode = "const n: number = 41; console.log(n + 1)"

// TestRunCodeTypeScriptOnThisHost runs TypeScript on the host's real node:
// node ≥ 22.6 strips the types and prints 42; an older node gives the
// clear refusal. Which one depends on the machine, and both are checked
// against what `node --version` says.
func TestRunCodeTypeScriptOnThisHost(t *testing.T) {
	_, hs := newServer(t)
	sb := box(t, hs.URL, "ts-real")
	nodePath, err := exec.LookPath("node")
	if err != nil {
		// No node at all: the answer every missing runtime gets.
		r, err := sb.RunCode(ctx(t), tsCode, sc.RunCodeOptions{Language: "typescript"})
		if err != nil || r.ExitCode != 127 || !strings.Contains(r.Stderr, "node is not available locally") {
			t.Fatalf("%+v %v", r, err)
		}
		return
	}
	out, err := exec.Command(nodePath, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	ver := strings.TrimSpace(string(out))
	r, err := sb.RunCode(ctx(t), tsCode, sc.RunCodeOptions{Language: "typescript"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Command != "node -e '"+tsCode+"'" {
		t.Errorf("command %q", r.Command)
	}
	var major, minor int
	_, _ = majorMinor(ver, &major, &minor)
	if major > 22 || major == 22 && minor >= 6 {
		t.Logf("node %s strips types", ver)
		if r.ExitCode != 0 || r.Stdout != "42\n" || r.Stderr != "" {
			t.Fatalf("%+v", r)
		}
		return
	}
	t.Logf("node %s is too old: the refusal path", ver)
	want := "typescript needs node ≥ 22.6 locally (this machine has node " + ver + "): "
	if r.ExitCode != 127 || r.Success || r.Stdout != "" || !strings.HasPrefix(r.Stderr, want) || strings.Contains(r.Stderr, nodePath) || !strings.HasSuffix(r.Stderr, "or run the code as javascript\n") {
		t.Fatalf("%+v\nwant stderr starting %q", r, want)
	}
	// JavaScript on the same node is unaffected.
	r, err = sb.RunCode(ctx(t), "console.log(6 * 7)", sc.RunCodeOptions{Language: "javascript"})
	if err != nil || r.ExitCode != 0 || r.Stdout != "42\n" {
		t.Fatalf("%+v %v", r, err)
	}
}

// majorMinor reads "vMAJOR.MINOR…".
func majorMinor(v string, major, minor *int) (int, error) {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	n := 0
	for i, dst := range []*int{major, minor} {
		if i >= len(parts) {
			break
		}
		x := 0
		for _, c := range parts[i] {
			if c < '0' || c > '9' {
				break
			}
			x = x*10 + int(c-'0')
		}
		*dst = x
		n++
	}
	return n, nil
}

// fakeNode writes a `node` that answers --version with version and
// otherwise prints each argument it got in <>; it returns its directory.
func fakeNode(t *testing.T, dir, version string) {
	t.Helper()
	script := "#!/bin/sh\nif [ \"$1\" = --version ]; then echo '" + version + "'; exit 0; fi\nfor a in \"$@\"; do printf '<%s>' \"$a\"; done\n"
	p := filepath.Join(dir, "node")
	tmp := p + ".new"
	if err := os.WriteFile(tmp, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	// Replaced by rename, as a package manager does, so the server sees
	// a new binary.
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}

// TestRunCodeTypeScriptFlagsByNodeVersion drives the real code path
// (version detection through the commands' PATH, the choice of flags, the
// quoting of the code) with a fake node per release: what each release
// gets on its command line, or the refusal.
func TestRunCodeTypeScriptFlagsByNodeVersion(t *testing.T) {
	dir := t.TempDir()
	// The fake node is in the host's temporary directory, which commands
	// in namespaces do not see (their /tmp is the sandbox's): host paths.
	_, hs := newServer(t, func(o *localsandbox.Options) {
		o.HostEnv = []string{"PATH=" + dir + ":/usr/bin:/bin"}
		o.Isolation = localsandbox.IsolationHostPaths
	})
	sb := box(t, hs.URL, "ts-fake")
	code := `const s: string = "it's"; console.log(s)`
	quoted := "<-e><" + code + ">"
	flagged := "<--experimental-strip-types><--disable-warning=ExperimentalWarning>" + quoted
	for _, c := range []struct {
		version, stdout, refusal string
	}{
		{"v20.20.2", "", "(this machine has node v20.20.2): "},
		{"v22.5.1", "", "this machine has node v22.5.1"},
		{"v22.6.0", flagged, ""},
		{"v22.17.1", flagged, ""},
		{"v22.18.0", quoted, ""},
		{"v23.0.0-nightly2024", flagged, ""},
		{"v23.5.0", flagged, ""},
		{"v23.6.0", quoted, ""},
		{"v24.11.1", quoted, ""},
		{"v26.0.0", quoted, ""},
		{"not a version", "", "`node --version` answered \"not a version\""},
	} {
		fakeNode(t, dir, c.version)
		r, err := sb.RunCode(ctx(t), code, sc.RunCodeOptions{Language: "typescript"})
		if err != nil {
			t.Fatalf("%s: %v", c.version, err)
		}
		if c.refusal != "" {
			if r.ExitCode != 127 || r.Stdout != "" || !strings.HasPrefix(r.Stderr, "typescript needs node ≥ 22.6 locally") || !strings.Contains(r.Stderr, c.refusal) {
				t.Errorf("%s: %+v", c.version, r)
			}
			continue
		}
		if r.ExitCode != 0 || r.Stdout != c.stdout || r.Stderr != "" {
			t.Errorf("%s: %+v\nwant stdout %s", c.version, r, c.stdout)
		}
		// JavaScript never gets the TypeScript flags.
		r, err = sb.RunCode(ctx(t), "1", sc.RunCodeOptions{})
		if err != nil || r.Stdout != "<-e><1>" {
			t.Errorf("%s javascript: %+v %v", c.version, r, err)
		}
	}
}
