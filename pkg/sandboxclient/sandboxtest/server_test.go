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

var tokens = sandboxtest.StaticTokens{
	"good":   {Tenant: "acme", Subject: "alice", Scopes: []string{"sandbox:use"}, SID: "job-123"},
	"attach": {Tenant: "acme", Scopes: []string{"session:attach"}, SID: "job-123"},
	"other":  {Tenant: "acme", Scopes: []string{"sandbox:use"}, SID: "other-job"},
}

// tokenFor maps the example's placeholder Authorization to a fake token.
func tokenFor(h string) string {
	switch {
	case h == "":
		return ""
	case strings.Contains(h, "session:attach"):
		return "attach"
	case strings.Contains(h, "sid=other-job"):
		return "other"
	}
	return "good"
}

func TestFakeAnswersErrorExamplesLikeTheWorker(t *testing.T) {
	exs := examples(t)
	names := []string{"missing token", "wrong scope", "sid pin mismatch", "unknown op", "bad arg", "bad execId",
		"bad JSON", "bad sandbox id", "wrong method", "preflight", "writeFile missing parent",
		"execStream refused before start", "destroy without destroy scope"}
	srv := sandboxtest.New(sandboxtest.Options{Verifier: tokens})
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
			if tok := tokenFor(ex.Request.Headers["Authorization"]); tok != "" {
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

func TestFakeFaults(t *testing.T) {
	srv := sandboxtest.New(sandboxtest.Options{Verifier: tokens, Disabled: true})
	defer srv.Close()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(url, tok, body string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	resp := post(srv.URL+"/api/nimbus/v1/sandboxes/job-123/rpc", "good", `{"op":"ready","args":[{}]}`)
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/" {
		t.Fatalf("disabled: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	on := sandboxtest.New(sandboxtest.Options{Verifier: tokens})
	defer on.Close()
	on.Fail503("readFile", 1)
	rpc := on.URL + "/api/nimbus/v1/sandboxes/job-123/rpc"
	resp = post(rpc, "good", `{"op":"readFile","args":["/x"]}`)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "5" || resp.Header.Get("Access-Control-Expose-Headers") != "Retry-After" {
		t.Fatalf("503: %d %v", resp.StatusCode, resp.Header)
	}
	if resp = post(rpc, "good", `{"op":"readFile","args":["/x"]}`); resp.StatusCode != 200 {
		t.Fatalf("second try: %d", resp.StatusCode)
	}
	resp = post(rpc, "good", `{"op":"execStream","args":["echo hi",{"cwd":"/home/user"}]}`)
	if resp.Header.Get("Content-Type") != "application/vnd.nimbus.exec-stream" {
		t.Fatalf("stream content type %q", resp.Header.Get("Content-Type"))
	}
	old := sandboxtest.New(sandboxtest.Options{Verifier: tokens, NoExecStream: true})
	defer old.Close()
	if resp = post(old.URL+"/api/nimbus/v1/sandboxes/job-123/rpc", "good", `{"op":"execStream","args":["true"]}`); resp.StatusCode != 400 {
		t.Fatalf("old server: %d", resp.StatusCode)
	}
	// DELETE /s/<id>/ refusals are JSON.
	req, _ := http.NewRequest(http.MethodDelete, on.URL+"/s/job-123/", nil)
	resp, _ = hc.Do(req)
	if resp.StatusCode != 401 {
		t.Fatalf("DELETE without token: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodPut, on.URL+"/s/job-123/", nil)
	resp, _ = hc.Do(req)
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD, DELETE" {
		t.Fatalf("PUT: %d %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	// The bytes wire type is decoded anywhere in the body.
	resp = post(rpc, "good", `{"op":"writeFile","args":["/home/user/b",{"__nimbusWireType":"bytes","base64":"AP8="}]}`)
	if data, ok := on.File("acme:alice:job-123", "/home/user/b"); resp.StatusCode != 200 || !ok || string(data) != "\x00\xff" {
		t.Fatalf("bytes write: %d %q", resp.StatusCode, data)
	}
	resp = post(rpc, "good", `{"op":"writeFile","args":["/home/user/b",42]}`)
	if resp.StatusCode != 400 {
		t.Fatalf("bad content: %d", resp.StatusCode)
	}
}
