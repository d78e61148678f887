//go:build unix

package localsandbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/token"
)

// TestRelativeRootIsARelativeCwd pins that a body's relative root, the
// default cwd of the exec-family ops, fails as a relative cwd does on a
// Worker (500 "cwd must be an absolute POSIX path …") instead of running
// the command in a directory made under the sandbox's host directory.
func TestRelativeRootIsARelativeCwd(t *testing.T) {
	srv, hs := newServer(t)
	const id = "relroot"
	post := func(body map[string]any) (int, string) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, hs.URL+"/api/nimbus/v1/sandboxes/"+id+"/rpc", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+mint(t, id, token.ScopeSandboxUse))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	// ready, which the SDK sends first, answers as ever and makes nothing.
	if st, got := post(map[string]any{"op": "ready", "args": []any{map[string]any{}}, "root": "app"}); st != 200 {
		t.Fatalf("ready: %d %s", st, got)
	}
	want := `{"ok":false,"error":"cwd must be an absolute POSIX path starting with '/', got app","code":"E_NIMBUS_REMOTE_RPC"}`
	for _, body := range []map[string]any{
		{"op": "exec", "args": []any{"pwd", map[string]any{}}, "root": "app"},
		{"op": "execStream", "args": []any{"pwd", map[string]any{}}, "root": "app"},
		{"op": "startProcess", "args": []any{"pwd", map[string]any{}}, "root": "app"},
		{"op": "runCode", "args": []any{"pwd", map[string]any{"language": "shell"}}, "root": "app"},
	} {
		if st, got := post(body); st != 500 || got != want {
			t.Errorf("%v: %d %s", body["op"], st, got)
		}
	}
	if _, err := os.Stat(filepath.Join(srv.SandboxDir("acme:alice:"+id), "app")); !os.IsNotExist(err) {
		t.Errorf("a directory was made for the relative root: %v", err)
	}
	// An explicit absolute cwd still wins over the root.
	if st, got := post(map[string]any{"op": "exec", "args": []any{"pwd", map[string]any{"cwd": "/tmp"}}, "root": "app"}); st != 200 || !bytes.Contains([]byte(got), []byte(`"exitCode":0`)) {
		t.Errorf("explicit cwd: %d %s", st, got)
	}
}
