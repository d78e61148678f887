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
