package sandboxtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
)

// The fake must reject what the real Worker rejects: these checks replay the
// error examples of the spec with raw HTTP.

type rawExample struct {
	Name    string `json:"name"`
	Request *struct {
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
		BodyRaw *string           `json:"body_raw"`
	} `json:"request"`
	Response struct {
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"response"`
}

func examples(t *testing.T) map[string]rawExample {
	raw, err := os.ReadFile("testdata/sandbox-api-examples.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Examples []rawExample }
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	m := map[string]rawExample{}
	for _, e := range doc.Examples {
		m[e.Name] = e
	}
	return m
}

// tokenFor mints the token an example's placeholder Authorization stands
// for.
func tokenFor(srv *sandboxtest.Server, h string) string {
	switch {
	case h == "":
		return ""
	case strings.Contains(h, "session:attach"):
		return srv.Token(sandboxtest.Identity{Tenant: "acme", Scopes: []string{"session:attach"}, SID: "job-123"})
	case strings.Contains(h, "sid=other-job"):
		return srv.Token(sandboxtest.Identity{Tenant: "acme", Scopes: []string{"sandbox:use"}, SID: "other-job"})
	}
	return srv.Token(sandboxtest.Identity{Tenant: "acme", Subject: "alice", Scopes: []string{"sandbox:use"}, SID: "job-123"})
}

// The middleware without faults is transparent: the backend's answers to
// the spec's error examples reach the client unchanged.
func TestErrorExamplesPassThrough(t *testing.T) {
	exs := examples(t)
	names := []string{"missing token", "wrong scope", "sid pin mismatch", "unknown op", "bad arg", "bad execId",
		"bad JSON", "bad sandbox id", "wrong method", "preflight", "writeFile missing parent",
		"execStream refused before start", "destroy without destroy scope"}
	srv := sandboxtest.New(sandboxtest.Options{})
	defer srv.Close()
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			ex := exs[name]
			path := ex.Request.URL[len("https://nimbus.example.com"):]
			var body io.Reader
			if ex.Request.BodyRaw != nil {
				body = strings.NewReader(*ex.Request.BodyRaw)
			} else if len(ex.Request.Body) > 0 && string(ex.Request.Body) != "null" {
				body = strings.NewReader(string(ex.Request.Body))
			}
			req, _ := http.NewRequest(ex.Request.Method, srv.URL+path, body)
			if tok := tokenFor(srv, ex.Request.Headers["Authorization"]); tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != ex.Response.Status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, ex.Response.Status, got)
			}
			for k, v := range ex.Response.Headers {
				if resp.Header.Get(k) != v {
					t.Fatalf("header %s = %q, want %q", k, resp.Header.Get(k), v)
				}
			}
			if len(ex.Response.Body) == 0 || string(ex.Response.Body) == "null" {
				if len(got) != 0 {
					t.Fatalf("body %q, want none", got)
				}
				return
			}
			var want, have map[string]any
			_ = json.Unmarshal(ex.Response.Body, &want)
			if err := json.Unmarshal(got, &have); err != nil {
				t.Fatalf("not JSON: %s", got)
			}
			if have["ok"] != want["ok"] || have["code"] != want["code"] {
				t.Fatalf("got %s, want %s", got, ex.Response.Body)
			}
			if name != "bad JSON" && have["error"] != want["error"] {
				t.Fatalf("message %q, want %q", have["error"], want["error"])
			}
			if name == "bad JSON" && !strings.HasPrefix(have["error"].(string), "Invalid JSON body: ") {
				t.Fatalf("message %q", have["error"])
			}
		})
	}
}

func TestFaults(t *testing.T) {
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(url, tok, body string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, b
	}
	good := sandboxtest.Identity{Tenant: "acme", Subject: "alice", Scopes: []string{"sandbox:use"}, SID: "job-123"}

	// A disabled remote API: 302 to / for /api/, 405 for DELETE /s/<id>/.
	off := sandboxtest.New(sandboxtest.Options{Disabled: true})
	defer off.Close()
	resp, _ := post(off.URL+"/api/nimbus/v1/sandboxes/job-123/rpc", off.Token(good), `{"op":"ready","args":[{}]}`)
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/" {
		t.Fatalf("disabled: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	req, _ := http.NewRequest(http.MethodDelete, off.URL+"/s/job-123/", nil)
	if resp, _ = hc.Do(req); resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("disabled DELETE: %d %q", resp.StatusCode, resp.Header.Get("Allow"))
	}

	on := sandboxtest.New(sandboxtest.Options{})
	defer on.Close()
	tok := on.Token(good)
	rpc := on.URL + "/api/nimbus/v1/sandboxes/job-123/rpc"
	// 503 + Retry-After, after auth (a request without a token still gets 401).
	on.Fail503("readFile", 1)
	if resp, _ = post(rpc, "", `{"op":"readFile","args":["/x"]}`); resp.StatusCode != 401 {
		t.Fatalf("503 fault before auth: %d", resp.StatusCode)
	}
	resp, _ = post(rpc, tok, `{"op":"readFile","args":["/x"]}`)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "5" || resp.Header.Get("Access-Control-Expose-Headers") != "Retry-After" {
		t.Fatalf("503: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, body := post(rpc, tok, `{"op":"readFile","args":["/x"]}`); resp.StatusCode != 200 || string(body) != `{"ok":true,"result":null}` {
		t.Fatalf("after the faults: %d %s", resp.StatusCode, body)
	}
	// A gateway's error page.
	on.FailGateway("stat", 1)
	resp, body := post(rpc, tok, `{"op":"stat","args":["/x"]}`)
	if resp.StatusCode != 502 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "502: Bad gateway") {
		t.Fatalf("gateway: %d %s", resp.StatusCode, body)
	}
	// The recorded requests carry op, status and DO name.
	reqs := on.Requests()
	if len(reqs) != 4 || reqs[0].DO != "" || reqs[0].Status != 401 || reqs[1].Status != 503 || reqs[2].DO != "acme:alice:job-123" || reqs[3].Op != "stat" {
		t.Fatalf("recorded %+v", reqs)
	}

	// Streams: split in pieces, cut before the exit frame, or ended by an
	// error frame.
	frames := func(body []byte) (kinds []byte, out string) {
		for len(body) >= 5 {
			n := 5 + int(uint32(body[1])<<24|uint32(body[2])<<16|uint32(body[3])<<8|uint32(body[4]))
			kinds = append(kinds, body[0])
			if body[0] == 1 {
				out += string(body[5:n])
			}
			body = body[n:]
		}
		return kinds, out
	}
	split := sandboxtest.New(sandboxtest.Options{MaxPiece: 2, Seed: 1})
	defer split.Close()
	resp, body = post(split.URL+"/api/nimbus/v1/sandboxes/job-123/rpc", split.Token(good), `{"op":"execStream","args":["echo hi; echo there"]}`)
	if kinds, out := frames(body); resp.Header.Get("Content-Type") != "application/vnd.nimbus.exec-stream" || out != "hi\nthere\n" || kinds[len(kinds)-1] != 3 {
		t.Fatalf("split stream: %q %v %q", resp.Header.Get("Content-Type"), kinds, out)
	}
	on.SetTruncateStream(true)
	_, body = post(rpc, tok, `{"op":"execStream","args":["echo partial"]}`)
	if kinds, out := frames(body); out != "partial\n" || kinds[len(kinds)-1] == 3 {
		t.Fatalf("truncated stream: %v %q", kinds, out)
	}
	on.SetTruncateStream(false)
	on.SetErrorFrame("exec output cancelled")
	_, body = post(rpc, tok, `{"op":"execStream","args":["echo a"]}`)
	if kinds, _ := frames(body); kinds[len(kinds)-1] != 4 || !strings.HasSuffix(string(body), `{"message":"exec output cancelled"}`) {
		t.Fatalf("error frame: %v %q", kinds, body)
	}
	on.SetErrorFrame("")

	// A server without execStream: E_REMOTE_OP after auth.
	old := sandboxtest.New(sandboxtest.Options{NoExecStream: true})
	defer old.Close()
	oldRPC := old.URL + "/api/nimbus/v1/sandboxes/job-123/rpc"
	if resp, _ = post(oldRPC, "", `{"op":"execStream","args":["true"]}`); resp.StatusCode != 401 {
		t.Fatalf("old server without token: %d", resp.StatusCode)
	}
	if resp, body = post(oldRPC, old.Token(good), `{"op":"execStream","args":["true"]}`); resp.StatusCode != 400 || !strings.Contains(string(body), `"code":"E_REMOTE_OP"`) {
		t.Fatalf("old server: %d %s", resp.StatusCode, body)
	}

	// A Worker that ignores timeoutMs: the command runs its course.
	slow := sandboxtest.New(sandboxtest.Options{IgnoreTimeout: true})
	defer slow.Close()
	_, body = post(slow.URL+"/api/nimbus/v1/sandboxes/job-123/rpc", slow.Token(good), `{"op":"exec","args":["sleep 0.3; echo done",{"timeoutMs":50}]}`)
	if !strings.Contains(string(body), `"exitCode":0`) || !strings.Contains(string(body), `"stdout":"done\n"`) {
		t.Fatalf("timeout not ignored: %s", body)
	}

	// Files put from outside are seen inside, and the other way round.
	on.PutFile("acme:alice:job-123", "/home/user/seed.txt", []byte("seeded"), 0o640)
	if _, body = post(rpc, tok, `{"op":"readFile","args":["/home/user/seed.txt"]}`); string(body) != `{"ok":true,"result":"seeded"}` {
		t.Fatalf("PutFile: %s", body)
	}
	if m, ok := on.Mode("acme:alice:job-123", "/home/user/seed.txt"); !ok || m != 0o640 {
		t.Fatalf("Mode: %o %v", m, ok)
	}
	post(rpc, tok, `{"op":"writeFile","args":["/home/user/b",{"__nimbusWireType":"bytes","base64":"AP8="}]}`)
	if data, ok := on.File("acme:alice:job-123", "/home/user/b"); !ok || string(data) != "\x00\xff" {
		t.Fatalf("File: %q %v", data, ok)
	}
	if got := on.Sandboxes(); len(got) != 1 || got[0] != "acme:alice:job-123" {
		t.Fatalf("Sandboxes: %v", got)
	}
}

// TestHostViewMatchesCommands: File and PutFile (through
// localsandbox.HostPath) see the files a command sees, in the isolation
// mode this machine gives (in namespaces /home/user and /tmp are the
// sandbox's bind mounts; with host paths HOME and TMPDIR point into the
// sandbox directory).
func TestHostViewMatchesCommands(t *testing.T) {
	srv := sandboxtest.New(sandboxtest.Options{})
	defer srv.Close()
	mode := srv.Backend.Isolation().Mode
	t.Logf("isolation: %s", mode)
	id := sandboxtest.Identity{Tenant: "acme", Subject: "alice", Scopes: []string{"sandbox:use"}, SID: "job-123"}
	const do = "acme:alice:job-123"
	srv.PutFile(do, "/home/user/put.txt", []byte("seeded"), 0o640)
	script := `printf made > "$HOME/a.txt" && printf temp > "$TMPDIR/b.txt" && cat "$HOME/put.txt"`
	if mode == "namespaces" {
		// The sandbox paths themselves, as a Worker's shell has them.
		script = `printf made > /home/user/a.txt && printf temp > /tmp/b.txt && cat /home/user/put.txt`
	}
	body, _ := json.Marshal(map[string]any{"op": "exec", "args": []any{script}})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/nimbus/v1/sandboxes/job-123/rpc", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+srv.Token(id))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		OK     bool
		Result struct {
			ExitCode int
			Stdout   string
			Stderr   string
		}
	}
	err = json.NewDecoder(resp.Body).Decode(&env)
	resp.Body.Close()
	if err != nil || !env.OK || env.Result.ExitCode != 0 || env.Result.Stdout != "seeded" {
		t.Fatalf("exec: %v %+v", err, env)
	}
	if got, ok := srv.File(do, "/home/user/a.txt"); !ok || string(got) != "made" {
		t.Errorf("File /home/user/a.txt = %q, %v", got, ok)
	}
	if got, ok := srv.File(do, "/tmp/b.txt"); !ok || string(got) != "temp" {
		t.Errorf("File /tmp/b.txt = %q, %v", got, ok)
	}
	if m, ok := srv.Mode(do, "/home/user/put.txt"); !ok || m != 0o640 {
		t.Errorf("Mode = %o, %v", m, ok)
	}
}
