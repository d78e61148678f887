//go:build unix

package localsandbox_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStorageErrorsNameNoHostPath: when the sandbox's directory cannot be
// opened (here a file stands where it goes) or removed, the answer names
// the failure by its errno, not by the host path of the data directory.
func TestStorageErrorsNameNoHostPath(t *testing.T) {
	s, hs := newServer(t)
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
}
