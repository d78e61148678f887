//go:build unix

package localsandbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/token"
)

// rawRPC posts one op to the rpc route with a full-trust token for id and
// returns the status and the exact body.
func rawRPC(t *testing.T, base, id, op string, args ...any) (int, string) {
	t.Helper()
	if args == nil {
		args = []any{}
	}
	b, err := json.Marshal(map[string]any{"profile": "default", "root": "/home/user", "op": op, "args": args})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/nimbus/v1/sandboxes/"+id+"/rpc", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+mint(t, id, token.ScopeSandboxUse, token.ScopeSessionDestroy))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestResultPresence pins the envelope byte for byte: a read of a missing
// path answers "result":null (the newest SDK validates result shapes and
// rejects {"ok":true} for those ops), and only void ops leave result out.
func TestResultPresence(t *testing.T) {
	_, hs := newServer(t)
	const id = "nulls"
	if st, body := rawRPC(t, hs.URL, id, "writeFile", "/home/user/a.txt", "hi"); st != 200 {
		t.Fatalf("setup: %d %s", st, body)
	}
	if st, body := rawRPC(t, hs.URL, id, "mkdir", "/home/user/d"); st != 200 {
		t.Fatalf("setup: %d %s", st, body)
	}
	for _, c := range []struct {
		op   string
		args []any
		want string
	}{
		// Reads of a missing path: an explicit null.
		{"readFile", []any{"/home/user/missing.txt"}, `{"ok":true,"result":null}`},
		{"readFileBytes", []any{"/home/user/missing.bin"}, `{"ok":true,"result":null}`},
		{"stat", []any{"/home/user/missing"}, `{"ok":true,"result":null}`},
		{"lstat", []any{"/home/user/missing"}, `{"ok":true,"result":null}`},
		{"readlink", []any{"/home/user/missing"}, `{"ok":true,"result":null}`},
		{"readRange", []any{"/home/user/missing.log", 0, 4}, `{"ok":true,"result":null}`},
		// A missing parent directory is missing too.
		{"readFile", []any{"/home/user/nope/x.txt"}, `{"ok":true,"result":null}`},
		{"stat", []any{"/nope/deeper/x"}, `{"ok":true,"result":null}`},
		// Results that are false or empty are still results.
		{"exists", []any{"/home/user/missing"}, `{"ok":true,"result":false}`},
		{"readdir", []any{"/home/user/d"}, `{"ok":true,"result":[]}`},
		{"readFile", []any{"/home/user/a.txt"}, `{"ok":true,"result":"hi"}`},
		{"readRange", []any{"/home/user/a.txt", 5, 4}, `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":""}}`},
		// Void ops: no result at all.
		{"mkdir", []any{"/home/user/d/e"}, `{"ok":true}`},
		{"chmod", []any{"/home/user/a.txt", 420}, `{"ok":true}`},
		{"rename", []any{"/home/user/a.txt", "/home/user/b.txt"}, `{"ok":true}`},
		{"deleteFile", []any{"/home/user/b.txt", map[string]any{}}, `{"ok":true}`},
		{"deleteFile", []any{"/home/user/never-existed", map[string]any{}}, `{"ok":true}`},
	} {
		st, body := rawRPC(t, hs.URL, id, c.op, c.args...)
		if st != 200 || body != c.want {
			t.Errorf("%s %v: %d %s, want %s", c.op, c.args, st, body, c.want)
		}
	}
}

// TestCheckOrder pins which error a call with several faults gets: the
// Worker's dispatcher checks a file op's options (cred) before its path,
// runCode's options before its code, and names the arguments as it does.
func TestCheckOrder(t *testing.T) {
	_, hs := newServer(t)
	const id = "order"
	cred := map[string]any{"cred": map[string]any{"uid": 1}}
	for _, c := range []struct {
		op   string
		args []any
		code string
		msg  string
	}{
		{"readFile", []any{5, cred}, "E_ARG_SHAPE", "cred is not accepted over the remote API"},
		{"writeFile", []any{5, 6, cred}, "E_ARG_SHAPE", "cred is not accepted over the remote API"},
		{"writeFile", []any{5, 6}, "E_ARG_SHAPE", "path must be a string"},
		{"readRange", []any{5, "x", "y", cred}, "E_ARG_SHAPE", "cred is not accepted over the remote API"},
		{"rename", []any{5, "/home/user/b"}, "E_ARG_SHAPE", "from must be a string"},
		{"rename", []any{"/home/user/a", 5}, "E_ARG_SHAPE", "to must be a string"},
		{"deleteFile", []any{5, cred}, "E_ARG_SHAPE", "path must be a string"},
		{"runCode", []any{5, cred}, "E_ARG_SHAPE", "cred is not accepted over the remote API"},
		{"runCode", []any{5, map[string]any{"language": "python"}}, "E_ARG_SHAPE", "code must be a string"},
		{"exec", []any{5, cred}, "E_ARG_SHAPE", "command must be a string"},
		{"processLogs", []any{"x"}, "E_ARG_SHAPE", "pid must be a number"},
	} {
		st, code, msg := rpcErr(t, hs.URL, id, c.op, c.args...)
		if st != 400 || code != c.code || msg != c.msg {
			t.Errorf("%s %v: %d %s %q, want %s %q", c.op, c.args, st, code, msg, c.code, c.msg)
		}
	}
	// ensureRuntimes takes String() of each spec, as the Worker does.
	st, body := rawRPC(t, hs.URL, id, "ensureRuntimes", []any{5, true, nil})
	if st != 200 || !strings.Contains(body, `"spec":"5"`) || !strings.Contains(body, `"spec":"true"`) || !strings.Contains(body, `"spec":"null"`) {
		t.Fatalf("%d %s", st, body)
	}
}
