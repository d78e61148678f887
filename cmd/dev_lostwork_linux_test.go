package cmd_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// devCall sends one rpc to sandbox id of d and returns the status and the
// decoded envelope.
func devCall(t *testing.T, d *devServer, tok, id, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", d.URL+"/api/nimbus/v1/sandboxes/"+id+"/rpc", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env map[string]any
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("%d %s: %v", resp.StatusCode, b, err)
	}
	return resp.StatusCode, env
}

// TestDevInputNobodyReads: writeProcessInput to a process that closed its
// input answers ok:false, as for one that exited: nothing can read the
// input, so accepting it into the queue would answer ok for data that is
// dropped. (The process is still running, so the answer cannot come from
// its exit.)
func TestDevInputNobodyReads(t *testing.T) {
	d := startDevServer(t, devOptions{})
	tok := d.token(t)
	d.warm(t, tok)
	_, env := devCall(t, d, tok, "box", `{"op":"startProcess","args":["exec 0<&-; echo closed; exec sleep 60",{}]}`)
	pid := env["result"].(map[string]any)["pid"]
	// The shell says when its input is closed.
	for {
		_, env = devCall(t, d, tok, "box", fmt.Sprintf(`{"op":"processLogs","args":[%v,{}]}`, pid))
		res := env["result"].(map[string]any)
		if strings.Contains(res["text"].(string), "closed") {
			break
		}
		if res["exit"] != nil {
			t.Fatalf("the process exited: %v", res)
		}
	}
	for _, op := range []string{"writeProcessInput", "endProcessInput"} {
		arg := ""
		if op == "writeProcessInput" {
			arg = `,"lost\n"`
		}
		st, env := devCall(t, d, tok, "box", fmt.Sprintf(`{"op":"%s","args":[%v%s]}`, op, pid, arg))
		if st != 200 || env["ok"] != true || env["result"].(map[string]any)["ok"] != false {
			t.Errorf("%s to a process that closed its input: %d %v, want ok:false", op, st, env)
		}
	}
	devCall(t, d, tok, "box", fmt.Sprintf(`{"op":"killProcess","args":[%v]}`, pid))
}

// findDir returns the host directory under data that holds file name.
func findDir(t *testing.T, data, name string) string {
	t.Helper()
	var dir string
	_ = filepath.WalkDir(data, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.Name() == name && !e.IsDir() && dir == "" {
			dir = filepath.Dir(p)
		}
		return nil
	})
	if dir == "" {
		t.Fatalf("no %s under %s", name, data)
	}
	return dir
}
