//go:build unix

package localsandbox_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
)

// serverLog collects a server's log (Options.Logf).
type serverLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *serverLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *serverLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func (l *serverLog) option(o *localsandbox.Options) { o.Logf = l.logf }

// TestStorageErrorsNameNoHostPath: when the sandbox's directory cannot be
// opened (here a file stands where it goes) or removed, the answer names
// the failure by its errno, not by the host path of the data directory,
// which the server's log gives the operator.
func TestStorageErrorsNameNoHostPath(t *testing.T) {
	var log serverLog
	s, hs := newServer(t, log.option)
	id := "storage"
	d := s.SandboxDir("acme:alice:" + id)
	if err := os.MkdirAll(filepath.Dir(d), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	st, code, msg := rpcErr(t, hs.URL, id, "writeFile", "/home/user/a.txt", "x")
	if st != 500 || code != "E_NIMBUS_REMOTE_RPC" || msg != "cannot open sandbox storage: not a directory" || strings.Contains(msg, filepath.Dir(d)) {
		t.Errorf("writeFile with no sandbox directory: %d %s %q", st, code, msg)
	}
	if got := log.String(); !strings.Contains(got, "cannot open sandbox storage in sandbox") || !strings.Contains(got, d) {
		t.Errorf("the server's log does not name the host path %s: %q", d, got)
	}
}

// TestRuntimeAnswersNameNoHostPath: the runtime ops (listRuntimes,
// installRuntime, ensureRuntimes) and runCode's refusal of TypeScript
// name the runtime, its version and what to do, never the directory of
// the host's PATH the runtime is in nor the data directory; a refusal's
// full text, with the host path, goes to the server's log.
func TestRuntimeAnswersNameNoHostPath(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "private-bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	tool := func(name, script string) {
		t.Helper()
		p := filepath.Join(bin, name)
		tmp := p + ".new"
		if err := os.WriteFile(tmp, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		// Replaced by rename, so the server sees a new binary.
		if err := os.Rename(tmp, p); err != nil {
			t.Fatal(err)
		}
	}
	tool("python3", "#!/bin/sh\necho 'Python 3.12.7'\n")
	tool("node", "#!/bin/sh\necho v20.20.2\n")
	var log serverLog
	s, hs := newServer(t, log.option, func(o *localsandbox.Options) {
		// The fake tools name their interpreter by its absolute path:
		// the host's PATH is bin alone, so the runtimes are these.
		o.HostEnv = []string{"PATH=" + bin}
		o.Isolation = localsandbox.IsolationHostPaths
	})
	const id = "rt-paths"
	// The shell runtime is the server's shell, /bin/sh.
	private := []string{bin, "/bin", s.DataDir()}
	answer := func(op string, args ...any) string {
		t.Helper()
		st, body := rawRPC(t, hs.URL, id, op, args...)
		if st != 200 {
			t.Fatalf("%s %v: %d %s", op, args, st, body)
		}
		for _, p := range private {
			if strings.Contains(body, p) {
				t.Errorf("%s %v names the host path %s: %s", op, args, p, body)
			}
		}
		return body
	}
	for _, c := range []struct {
		op   string
		args []any
		want string
	}{
		{"listRuntimes", nil, `{"abi":"host","bins":["python3"],"license":"","name":"python","root":"","sizeBytes":0,"version":"3.12.7"}`},
		{"installRuntime", []any{"python", map[string]any{}}, `"stdout":"python is provided by the host\n"`},
		{"installRuntime", []any{"python@latest", map[string]any{}}, `"stdout":"python is provided by the host, version 3.12.7; \"latest\" is not checked locally\n"`},
		{"installRuntime", []any{"python@3.11", map[string]any{}}, `"stderr":"python@3.11 is not available locally: the host provides python 3.12.7 and the local backend cannot install another version; install python 3.11 on this machine, or ask for python without a version\n"`},
		{"ensureRuntimes", []any{[]any{"python", "python@3.11"}, map[string]any{}}, `"exitCode":1,"spec":"python@3.11","stderr":"python@3.11 is not available locally: the host provides python 3.12.7 and`},
	} {
		if body := answer(c.op, c.args...); !strings.Contains(body, c.want) {
			t.Errorf("%s %v: %s\nwant it to hold %s", c.op, c.args, body, c.want)
		}
	}
	typescript := []any{"1", map[string]any{"language": "typescript"}}
	for _, c := range []struct {
		node, want string
	}{
		{"#!/bin/sh\necho v20.20.2\n", `"stderr":"typescript needs node ≥ 22.6 locally (this machine has node v20.20.2): the local backend runs TypeScript with node's built-in type stripping; install node 22.6 or newer, or run the code as javascript\n"`},
		{"#!/bin/sh\necho 'not a version'\n", "`node --version` answered \\\"not a version\\\"; check the node on this machine's PATH"},
		{"#!/bin/sh\nexit 3\n", "`node --version` failed (exit status 3); check"},
		// An interpreter that is not there: the start fails with an
		// error that names the host's node.
		{"#!" + bin + "/missing\n", "`node --version` failed (ENOENT: no such file or directory); check"},
	} {
		tool("node", c.node)
		if body := answer("runCode", typescript...); !strings.Contains(body, c.want) || !strings.Contains(body, `"exitCode":127`) {
			t.Errorf("typescript with node %q: %s\nwant it to hold %s", c.node, body, c.want)
		}
	}
	got := log.String()
	for _, want := range []string{
		"install of python@3.11 refused in sandbox " + id + ": the host's python is " + bin + "/python3, version 3.12.7",
		"typescript refused in sandbox " + id + ": node v20.20.2 at " + bin + "/node cannot strip types",
		"`" + bin + "/node --version` failed: fork/exec " + bin + "/node: no such file or directory",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the server's log does not say %q:\n%s", want, got)
		}
	}
}
