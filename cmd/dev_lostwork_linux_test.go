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

	"golang.org/x/sys/unix"
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

// TestDevWriteOverFileSizeLimit: a write that the server's file size limit
// (RLIMIT_FSIZE, set on the running `nimbus dev` with prlimit, as a full
// disk or a quota would stop it) cuts short answers 500 with the errno's
// name, EFBIG, not EIO; a new file is not created, an old one keeps its
// content (both the way of a new file and that of a kept spare file), and
// no temporary file is left.
func TestDevWriteOverFileSizeLimit(t *testing.T) {
	d := startDevServer(t, devOptions{})
	tok := d.token(t)
	d.warm(t, tok)
	dir := findDir(t, d.Data, "w")
	// "w" was written (and replaced) by warm: the next write over it may
	// take a kept file; "old" has never been replaced.
	d.warm(t, tok)
	if err := os.WriteFile(filepath.Join(dir, "old"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	lim := uint64(4096)
	if err := unix.Prlimit(d.cmd.Process.Pid, unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: lim, Max: lim}, nil); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 10000)
	for name, want := range map[string]any{"new": nil, "old": "old", "w": "x"} {
		st, env := devCall(t, d, tok, "box", `{"op":"writeFile","args":["/home/user/`+name+`","`+big+`"]}`)
		wantErr := "EFBIG: file too large, write '/home/user/" + name + "'"
		if st != 500 || env["ok"] != false || env["code"] != "E_NIMBUS_REMOTE_RPC" || env["error"] != wantErr {
			t.Errorf("write of %s over the limit: %d %v, want 500 E_NIMBUS_REMOTE_RPC %q", name, st, env, wantErr)
		}
		_, env = devCall(t, d, tok, "box", `{"op":"readFile","args":["/home/user/`+name+`"]}`)
		if env["result"] != want {
			t.Errorf("%s after the failed write holds %.20v, want %v", name, env["result"], want)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".nimbus-") {
			t.Errorf("a temporary file is left: %s", e.Name())
		}
	}
}

// TestDevAppsUnsavedAreUndone: an exposure op whose record cannot be saved
// (the state file is replaced by a directory, so the rename onto it fails)
// answers 500 and leaves nothing of itself in effect: a new port is not
// exposed, a rotated link keeps its capability, an unexposed port stays
// exposed, a removed app keeps its reservation. Before, the error came with the change made in memory only,
// which a restart then forgot.
func TestDevAppsUnsavedAreUndone(t *testing.T) {
	d := startDevServer(t, devOptions{})
	tok := d.token(t)
	d.warm(t, tok)
	ports := func() map[float64]any {
		t.Helper()
		_, env := devCall(t, d, tok, "box", `{"op":"listPorts","args":[]}`)
		out := map[float64]any{}
		for _, p := range env["result"].([]any) {
			m := p.(map[string]any)
			out[m["port"].(float64)] = m["capability"]
		}
		return out
	}
	for _, body := range []string{`{"op":"exposePort","args":[4001,{}]}`, `{"op":"ensureDurableApp","args":[{"owner":"kept","preferredPort":4003}]}`} {
		if st, env := devCall(t, d, tok, "box", body); st != 200 {
			t.Fatalf("%s: %d %v", body, st, env)
		}
	}
	before := ports()
	state, err := filepath.Glob(filepath.Join(d.Data, "apps", "*.json"))
	if err != nil || len(state) != 1 {
		t.Fatalf("state files %v %v", state, err)
	}
	if err := os.Remove(state[0]); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(state[0], "in-the-way"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{
		`{"op":"exposePort","args":[4002,{}]}`,
		`{"op":"rotateLink","args":[4001]}`,
		`{"op":"unexposePort","args":[4001]}`,
		`{"op":"exposePort","args":[4001,{"visibility":"public"}]}`,
		`{"op":"removeApp","args":[{"owner":"kept"}]}`,
		`{"op":"removeDurableApp","args":[{"owner":"kept"}]}`,
	} {
		st, env := devCall(t, d, tok, "box", body)
		if st != 500 || env["code"] != "E_NIMBUS_REMOTE_RPC" || !strings.HasPrefix(env["error"].(string), "cannot save the sandbox's apps") {
			t.Errorf("%s with the state unwritable: %d %v, want 500 cannot save", body, st, env)
		}
		if after := ports(); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("%s failed but changed the ports: %v, was %v", body, after, before)
		}
	}
	// Once the state can be written again, so can the ops.
	if err := os.RemoveAll(state[0]); err != nil {
		t.Fatal(err)
	}
	if st, env := devCall(t, d, tok, "box", `{"op":"exposePort","args":[4002,{}]}`); st != 200 {
		t.Fatalf("%d %v", st, env)
	}
	if got := ports(); len(got) != 3 || got[4001] != before[4001] || got[4003] != before[4003] {
		t.Errorf("ports %v, want 4001 and 4003 (as before) and 4002", got)
	}
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
