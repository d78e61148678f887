package cftest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/internal/cftest"
)

const acct = "0123456789abcdef0123456789abcdef"

type envelope struct {
	Success bool `json:"success"`
	Errors  []struct {
		Code    int64  `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
	Messages []any          `json:"messages"`
	Result   map[string]any `json:"result"`
}

func call(t *testing.T, s *cftest.Server, method, path, token, body string, hdr ...string) (int, envelope) {
	t.Helper()
	req, _ := http.NewRequest(method, s.BaseURL()+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatalf("%s %s: not an envelope: %s", method, path, data)
	}
	if env.Errors == nil || env.Messages == nil {
		t.Fatalf("%s %s: envelope lacks errors/messages arrays: %s", method, path, data)
	}
	return res.StatusCode, env
}

// The fake rejects what Cloudflare rejects, in the v4 envelope.
func TestFakeRejectsLikeCloudflare(t *testing.T) {
	s := cftest.New()
	defer s.Close()
	s.AddAccount(acct, "Acme")
	s.AddToken("tok", &cftest.Token{Accounts: []string{acct}})
	tests := []struct {
		name, method, path, token, body string
		hdr                             []string
		status                          int
		code                            int64
	}{
		{"no token", "GET", "/user/tokens/verify", "", "", nil, 401, 1000},
		{"unknown token", "GET", "/user/tokens/verify", "nope", "", nil, 401, 1000},
		{"mixed auth schemes", "GET", "/user/tokens/verify", "tok", "", []string{"X-Auth-Key", "k"}, 401, 1000},
		{"bad bucket name", "POST", "/accounts/" + acct + "/r2/buckets", "tok", `{"name":"Bad_Name"}`, nil, 400, 10005},
		{"short bucket name", "POST", "/accounts/" + acct + "/r2/buckets", "tok", `{"name":"ab"}`, nil, 400, 10005},
		{"malformed body", "POST", "/accounts/" + acct + "/r2/buckets", "tok", `{"name":`, nil, 400, 10040},
		{"unknown field", "POST", "/accounts/" + acct + "/r2/buckets", "tok", `{"name":"abc","bogus":1}`, nil, 400, 10040},
		{"missing bucket", "GET", "/accounts/" + acct + "/r2/buckets/abc", "tok", "", nil, 404, 10006},
		{"foreign account", "GET", "/accounts/fedcba9876543210fedcba9876543210", "tok", "", nil, 403, 9109},
		{"bad account id", "GET", "/accounts/xyz", "tok", "", nil, 404, 7003},
		{"worker missing", "PUT", "/accounts/" + acct + "/workers/scripts/demo/secrets", "tok", `{"name":"A","text":"b","type":"secret_text"}`, nil, 404, 10007},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, env := call(t, s, tc.method, tc.path, tc.token, tc.body, tc.hdr...)
			if status != tc.status || env.Success || len(env.Errors) != 1 || env.Errors[0].Code != tc.code {
				t.Fatalf("got %d %+v, want %d code %d", status, env, tc.status, tc.code)
			}
		})
	}
	if n := len(s.Requests()); n != len(tests) {
		t.Fatalf("recorded %d requests, want %d", n, len(tests))
	}
	if len(s.Buckets(acct)) != 0 {
		t.Fatal("a rejected create made a bucket")
	}
}

func TestFakeCreateThenConflict(t *testing.T) {
	s := cftest.New()
	defer s.Close()
	s.AddAccount(acct, "Acme")
	s.AddToken("tok", &cftest.Token{Accounts: []string{acct}})
	status, env := call(t, s, "POST", "/accounts/"+acct+"/r2/buckets", "tok", `{"name":"abc"}`)
	if status != 200 || !env.Success || env.Result["name"] != "abc" {
		t.Fatalf("%d %+v", status, env)
	}
	status, env = call(t, s, "POST", "/accounts/"+acct+"/r2/buckets", "tok", `{"name":"abc"}`)
	if status != 409 || env.Errors[0].Code != 10004 {
		t.Fatalf("%d %+v", status, env)
	}
	status, env = call(t, s, "GET", "/accounts/"+acct+"/r2/buckets/abc", "tok", "")
	if status != 200 || env.Result["name"] != "abc" {
		t.Fatalf("%d %+v", status, env)
	}
}

func TestObjectsDeleteAndListRules(t *testing.T) {
	s := cftest.New()
	defer s.Close()
	s.AddAccount(acct, "Acme")
	s.AddToken("t", &cftest.Token{Accounts: []string{acct}})
	s.AddBucket(acct, "rt-bucket")
	s.PutObject(acct, "rt-bucket", "a/b", []byte("x"), "")
	base := "/accounts/" + acct + "/r2/buckets/rt-bucket/objects"
	if code, env := call(t, s, "DELETE", base+"/a/b", "t", ""); code != 200 || !env.Success {
		t.Fatalf("delete: %d %+v", code, env)
	}
	if _, _, ok := s.Object(acct, "rt-bucket", "a/b"); ok {
		t.Fatal("object survived DELETE")
	}
	if code, _ := call(t, s, "DELETE", base+"/a/b", "t", ""); code != 200 {
		t.Fatalf("deleting a missing key: %d, want 200 as in R2", code)
	}
	for _, q := range []string{"?per_page=0", "?per_page=1001", "?cursor=!!"} {
		if code, env := call(t, s, "GET", base+q, "t", ""); code != 400 || env.Success {
			t.Errorf("list %s: %d, want 400", q, code)
		}
	}
	if code, _ := call(t, s, "GET", "/accounts/"+acct+"/r2/buckets/missing/objects", "t", ""); code != 404 {
		t.Errorf("listing a missing bucket: %d, want 404", code)
	}
}
