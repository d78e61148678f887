package sandboxclient_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// example mirrors one entry of testdata/sandbox-api-examples.json.
type example struct {
	Name    string `json:"name"`
	Request *struct {
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"request"`
	Response struct {
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
		BodyHex string            `json:"body_hex"`
	} `json:"response"`
}

func loadExamples(t testing.TB) map[string]example {
	t.Helper()
	raw, err := os.ReadFile("testdata/sandbox-api-examples.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Examples []example `json:"examples"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]example{}
	for _, e := range doc.Examples {
		out[e.Name] = e
	}
	return out
}

// replay is a server that answers one example's response and records the
// request the client sent for it. Other ready calls get a plain success.
type replay struct {
	ex      example
	mu      sync.Mutex
	got     *http.Request
	gotBody []byte
	calls   int
}

func (rp *replay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var probe struct {
		Op string `json:"op"`
	}
	_ = json.Unmarshal(body, &probe)
	wantOp := ""
	if rp.ex.Request != nil && len(rp.ex.Request.Body) > 0 {
		var b struct {
			Op string `json:"op"`
		}
		_ = json.Unmarshal(rp.ex.Request.Body, &b)
		wantOp = b.Op
	}
	if probe.Op == "ready" && wantOp != "ready" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"result":{"ok":true,"preinstalled":[]}}`)
		return
	}
	rp.mu.Lock()
	rp.got, rp.gotBody = r, body
	rp.calls++
	rp.mu.Unlock()
	for k, v := range rp.ex.Response.Headers {
		w.Header().Set(k, v)
	}
	w.WriteHeader(rp.ex.Response.Status)
	switch {
	case rp.ex.Response.BodyHex != "":
		b, _ := hex.DecodeString(rp.ex.Response.BodyHex)
		_, _ = w.Write(b)
	case len(rp.ex.Response.Body) > 0 && string(rp.ex.Response.Body) != "null":
		_, _ = w.Write(rp.ex.Response.Body)
	}
}

const exampleToken = "tok.en.placeholder"

type exampleCase struct {
	name string
	// sameRequest: the client must send exactly the example's body.
	sameRequest bool
	diag        bool
	run         func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error)
	check       func(t *testing.T, got any, err error)
}

func wantResult(want string) func(t *testing.T, got any, err error) {
	return func(t *testing.T, got any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		b, _ := json.Marshal(got)
		if !jsonSubset(t, want, string(b)) {
			t.Fatalf("result mismatch:\n got %s\nwant ⊇ %s", b, want)
		}
	}
}

func wantRemote(status int, code, msg string) func(t *testing.T, got any, err error) {
	return func(t *testing.T, got any, err error) {
		t.Helper()
		var re *sc.RemoteError
		if !errors.As(err, &re) {
			t.Fatalf("want *RemoteError, got %T %v", err, err)
		}
		if re.Status != status || re.Code != code || re.Message != msg {
			t.Fatalf("got %d %s %q, want %d %s %q", re.Status, re.Code, re.Message, status, code, msg)
		}
	}
}

// jsonSubset reports whether every member of want appears with an equal
// value in got (objects recursively; arrays and scalars exactly).
func jsonSubset(t *testing.T, want, got string) bool {
	t.Helper()
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatal(err)
	}
	return subset(w, g)
}

func subset(w, g any) bool {
	wm, ok := w.(map[string]any)
	if !ok {
		if wa, ok := w.([]any); ok {
			ga, ok := g.([]any)
			if !ok || len(ga) != len(wa) {
				return false
			}
			for i := range wa {
				if !subset(wa[i], ga[i]) {
					return false
				}
			}
			return true
		}
		return reflect.DeepEqual(w, g)
	}
	gm, ok := g.(map[string]any)
	if !ok {
		return false
	}
	for k, v := range wm {
		gv, has := gm[k]
		if !has && v == nil {
			continue
		}
		if !has || !subset(v, gv) {
			return false
		}
	}
	return true
}

func exampleCases() []exampleCase {
	return []exampleCase{
		{name: "ready", sameRequest: true,
			run:   func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) { return sb.Ready(ctx) },
			check: wantResult(`{"ok":true,"preinstalled":["python"]}`)},
		{name: "ready with diag", sameRequest: true, diag: true,
			run:   func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) { return sb.Ready(ctx) },
			check: wantResult(`{"ok":true,"preinstalled":[]}`)},
		{name: "exec buffered", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.Exec(ctx, "echo ok", sc.ExecOptions{Env: map[string]string{"FOO": "bar"}, Timeout: time.Minute})
			},
			check: wantResult(`{"command":"echo ok","exitCode":0,"success":true,"duration":18,"timestamp":1767225600018,"stdout":"ok\n","stderr":""}`)},
		{name: "exec timeout", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.Exec(ctx, "sleep 5", sc.ExecOptions{Timeout: 100 * time.Millisecond})
			},
			check: wantResult(`{"exitCode":124,"success":false,"stderr":"command timed out after 100ms\n"}`)},
		{name: "execStream", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				var out, errb bytes.Buffer
				r, err := sb.Run(ctx, "echo hi; echo oops >&2; exit 3", sc.ExecOptions{}, &out, &errb)
				if err != nil {
					return nil, err
				}
				return map[string]any{"exitCode": r.ExitCode, "success": r.Success, "duration": r.Duration, "stdout": out.String(), "stderr": errb.String()}, nil
			},
			check: wantResult(`{"exitCode":3,"success":false,"duration":41,"stdout":"hi\n","stderr":"oops\n"}`)},
		{name: "execStream refused before start",
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.ExecStream(ctx, "pwd", sc.ExecOptions{})
			},
			check: wantRemote(400, "E_ARG_SHAPE", "cred is not accepted over the remote API")},
		{name: "named shell exec", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.Exec(ctx, "cd /home/user/app; pwd", sc.ExecOptions{ShellID: "agent-1"})
			},
			check: wantResult(`{"stdout":"/home/user/app\n","exitCode":0}`)},
		{name: "startProcess", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.StartProcess(ctx, "node server.js", sc.StartOptions{ExecOptions: sc.ExecOptions{Cwd: "app", ExecID: "ci-run-7"}, Restart: "on-failure"})
			},
			check: wantResult(`{"command":"node server.js","pid":1000002,"startedAt":1767225600000,"process":{"pid":1000002,"state":"running","exitCode":null,"endTime":null,"longRunning":true,"execId":"ci-run-7","argv":["node server.js"]},"ports":[]}`)},
		{name: "runCode python", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.RunCode(ctx, "print(2 + 2)", sc.RunCodeOptions{Language: "python", Install: "ifMissing"})
			},
			check: wantResult(`{"command":"python -c 'print(2 + 2)'","stdout":"4\n","exitCode":0}`)},
		{name: "writeFile bytes", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return nil, sb.WriteFile(ctx, "/home/user/blob.bin", []byte{0x00, 0xff})
			},
			check: func(t *testing.T, got any, err error) {
				if err != nil {
					t.Fatal(err)
				}
			}},
		{name: "writeFile text", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return nil, sb.WriteFileText(ctx, "/home/user/a.txt", "hello\n")
			},
			check: func(t *testing.T, got any, err error) {
				if err != nil {
					t.Fatal(err)
				}
			}},
		{name: "writeFile missing parent", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return nil, sb.WriteFileText(ctx, "/home/user/nope/a.txt", "x")
			},
			check: func(t *testing.T, got any, err error) {
				wantRemote(500, "E_NIMBUS_REMOTE_RPC", "ENOENT: no such file or directory, open '/home/user/nope/a.txt'")(t, got, err)
				var re *sc.RemoteError
				errors.As(err, &re)
				if re.Errno() != "ENOENT" || !sc.IsNotFound(err) {
					t.Fatalf("errno = %q", re.Errno())
				}
			}},
		{name: "mkdir (recursive)", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return nil, sb.Mkdir(ctx, "/home/user/app/src")
			},
			check: func(t *testing.T, got any, err error) {
				if err != nil {
					t.Fatal(err)
				}
			}},
		{name: "readFileBytes", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				b, ok, err := sb.ReadFileBytes(ctx, "/home/user/blob.bin")
				return map[string]any{"data": b, "ok": ok}, err
			},
			check: func(t *testing.T, got any, err error) {
				m := got.(map[string]any)
				if err != nil || !m["ok"].(bool) || !bytes.Equal(m["data"].([]byte), []byte{0, 0xff}) {
					t.Fatalf("got %v %v", got, err)
				}
			}},
		{name: "readFile", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				s, ok, err := sb.ReadFile(ctx, "/home/user/a.txt")
				return map[string]any{"text": s, "ok": ok}, err
			},
			check: wantResult(`{"text":"hello\n","ok":true}`)},
		{name: "readFile missing", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				s, ok, err := sb.ReadFile(ctx, "/home/user/missing.txt")
				return map[string]any{"text": s, "ok": ok}, err
			},
			check: wantResult(`{"text":"","ok":false}`)},
		{name: "readRange", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				b, ok, err := sb.ReadRange(ctx, "/home/user/big.log", 0, 4)
				return map[string]any{"text": string(b), "ok": ok}, err
			},
			check: wantResult(`{"text":"hell","ok":true}`)},
		{name: "stat", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.Stat(ctx, "/home/user/blob.bin")
			},
			check: wantResult(`{"type":"file","size":2,"mtime":1767225600000,"mode":33188,"ctime":1767225600000,"revision":7}`)},
		{name: "readdir", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.ReadDir(ctx, "/home/user")
			},
			check: wantResult(`[{"name":"a.txt","type":"file"},{"name":"app","type":"directory"}]`)},
		{name: "exists", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.Exists(ctx, "/home/user/a.txt")
			},
			check: wantResult(`true`)},
		{name: "deleteFile recursive", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return nil, sb.DeleteFile(ctx, "/home/user/app", true)
			},
			check: func(t *testing.T, got any, err error) {
				if err != nil {
					t.Fatal(err)
				}
			}},
		{name: "listRuntimes", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) { return sb.ListRuntimes(ctx) },
			check: wantResult(`{"installed":[{"name":"python","version":"3.12.7","root":"/usr/local/lib/nimbus/runtimes/python","abi":"wasi","bins":["python","python3","pip"],"sizeBytes":31457280,"license":"PSF-2.0"}],
				"available":[{"name":"ruby","abi":"wasi","defaultVersion":"3.4.1","versions":[{"version":"3.4.1","sizeBytes":20971520,"license":"BSD-2-Clause"}]}]}`)},
		{name: "installRuntime", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.InstallRuntime(ctx, "python", false)
			},
			check: wantResult(`{"spec":"python","exitCode":0,"stdout":"installed python\n","stderr":""}`)},
		{name: "installRuntime blocked by policy",
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.InstallRuntime(ctx, "ruby", false)
			},
			check: wantRemote(403, "E_RUNTIME_ON_DEMAND_DISABLED", "Nimbus runtime 'ruby' is not preinstalled and on-demand runtime installs are disabled by sandbox profile 'default'")},
		{name: "runtime not allowed", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.RunCode(ctx, "puts 1", sc.RunCodeOptions{Language: "ruby"})
			},
			check: wantRemote(403, "E_RUNTIME_NOT_ALLOWED", "Nimbus runtime 'ruby' is not allowed by sandbox profile 'default'")},
		{name: "listProcesses", sameRequest: true,
			run:   func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) { return sb.ListProcesses(ctx) },
			check: wantResult(`[{"pid":1000002,"command":"node server.js","argv":["node server.js"],"cwd":"/home/user/app","state":"running","exitCode":null,"startTime":1767225600000,"endTime":null,"longRunning":true,"attachedTty":false,"execId":"ci-run-7"}]`)},
		{name: "processLogs tail", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				n := int64(200)
				return sb.ProcessLogs(ctx, 1000002, sc.LogOptions{Lines: &n})
			},
			check: wantResult(`{"pid":1000002,"chunks":[{"seq":0,"ts":1767225600100,"stream":"stdout","data":"listening on 3000\n"}],"text":"listening on 3000\n","cursor":1,"truncated":false,"exit":null}`)},
		{name: "processLogs follow", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				n := int64(1)
				return sb.ProcessLogs(ctx, 1000002, sc.LogOptions{Cursor: &n})
			},
			check: wantResult(`{"pid":1000002,"chunks":[],"cursor":1,"exit":{"code":143,"at":1767225660000,"reason":"SIGTERM"}}`)},
		{name: "signalProcess", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.SignalProcess(ctx, 1000002, "SIGTERM")
			},
			check: wantResult(`{"ok":true,"pid":1000002}`)},
		{name: "killProcess", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.KillProcess(ctx, 1000002)
			},
			check: wantResult(`{"ok":true,"pid":1000002}`)},
		{name: "listPorts", sameRequest: true,
			run:   func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) { return sb.ListPorts(ctx) },
			check: wantResult(`[{"port":3000,"pid":1000002,"registeredAt":1767225600200,"capability":"3f9a1c0b2d4e5f60718293a4","execId":"ci-run-7"}]`)},
		{name: "exposePort", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.ExposePort(ctx, 3000, sc.ExposeOptions{Visibility: "scoped"})
			},
			check: func(t *testing.T, got any, err error) {
				wantResult(`{"port":3000,"listening":true,"pid":1000002,"capability":"3f9a1c0b2d4e5f60718293a4","visibility":"scoped","owner":"auto:server.js","execId":"ci-run-7"}`)(t, got, err)
				if u := got.(*sc.ExposedPort).URL; !strings.HasSuffix(u, "/s/job-123/port/3000/") {
					t.Fatalf("url = %q", u)
				}
			}},
		{name: "unexposePort", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.UnexposePort(ctx, 3000)
			},
			check: wantResult(`{"port":3000,"ok":true}`)},
		{name: "destroy via rpc", sameRequest: true,
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.Destroy(ctx, "ci-cleanup")
			},
			check: wantResult(`{"ok":true,"killed":1,"destroyedAt":1767225700000,"reason":"ci-cleanup"}`)},
		{name: "destroy via DELETE",
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return c.DeleteSession(ctx, "job-123", "ci-cleanup")
			},
			check: wantResult(`{"ok":true,"killed":0,"reason":"ci-cleanup"}`)},
		{name: "destroy without destroy scope",
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.Destroy(ctx, "x")
			},
			check: wantRemote(403, "E_SCOPE_MISSING", "Nimbus token missing required scope: session:destroy or session:admin")},
		{name: "missing token",
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.Exec(ctx, "echo nope", sc.ExecOptions{})
			},
			check: wantRemote(401, "E_TOKEN_MALFORMED", "Malformed token: no Bearer token in Authorization header, nimbus_token query, or cookie")},
		{name: "wrong scope",
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.Exec(ctx, "echo nope", sc.ExecOptions{})
			},
			check: wantRemote(403, "E_SCOPE_MISSING", "Missing required scope: sandbox:use")},
		{name: "sid pin mismatch",
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.Exec(ctx, "echo nope", sc.ExecOptions{})
			},
			check: wantRemote(403, "E_SESSION_PIN_MISMATCH", `Token pinned to session "other-job" but request targets "job-123"`)},
		{name: "expired token",
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.Exec(ctx, "echo nope", sc.ExecOptions{})
			},
			check: wantRemote(401, "E_TOKEN_EXPIRED", "Token expired 12s ago")},
		{name: "bad signature",
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.Exec(ctx, "echo nope", sc.ExecOptions{})
			},
			check: wantRemote(401, "E_TOKEN_SIGNATURE", "Token signature invalid")},
		{name: "bad arg",
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.KillProcess(ctx, 1)
			},
			check: wantRemote(400, "E_ARG_SHAPE", "pid must be a number")},
		{name: "bad execId",
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.Exec(ctx, "true", sc.ExecOptions{ExecID: "-bad"})
			},
			check: wantRemote(400, "E_ARG_SHAPE", "execId must be 1 to 160 characters from A-Z a-z 0-9 . _ : - and start with a letter or digit, got 4 characters")},
		{name: "DO overloaded",
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				_, _, err := sb.ReadFile(ctx, "/home/user/a.txt")
				return nil, err
			},
			check: func(t *testing.T, got any, err error) {
				wantRemote(503, "E_NIMBUS_DO_OVERLOADED", "Durable Object is overloaded.")(t, got, err)
				var re *sc.RemoteError
				errors.As(err, &re)
				if re.RetryAfter != 5*time.Second {
					t.Fatalf("RetryAfter = %v", re.RetryAfter)
				}
			}},
		{name: "remote API disabled",
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) { return sb.Ready(ctx) },
			check: func(t *testing.T, got any, err error) {
				var ce *sc.Error
				if !errors.As(err, &ce) || ce.Code != sc.CodeAPINotEnabled || ce.Status != 302 {
					t.Fatalf("got %#v", err)
				}
				if !strings.Contains(ce.Error(), "remote API not enabled on this endpoint (or wrong --endpoint/--base-path)") {
					t.Fatalf("message %q", ce.Error())
				}
			}},
		{name: "no JWT_SECRET, no allowLegacy",
			run:   func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) { return sb.Ready(ctx) },
			check: wantRemote(500, "E_AUTH_CONFIG_MISSING", "Remote Nimbus sandbox API requires JWT_SECRET")},
		{name: "new session",
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return c.CreateSession(ctx)
			},
			check: func(t *testing.T, got any, err error) {
				s, _ := got.(*sc.NewSession)
				if err != nil || s.SessionID != "nimble-otter-4271" || !strings.Contains(s.URL, "/s/nimble-otter-4271/?nimbus_token=") {
					t.Fatalf("%+v %v", got, err)
				}
			}},
		{name: "unknown op",
			run: func(ctx context.Context, c *sc.Client, sb *sc.Sandbox) (any, error) {
				return sb.DetachExec(ctx, "x")
			},
			check: wantRemote(400, "E_REMOTE_OP", "Unknown Nimbus sandbox operation: frobnicate")},
	}
}

func TestExamples(t *testing.T) {
	exs := loadExamples(t)
	for _, tc := range exampleCases() {
		t.Run(tc.name, func(t *testing.T) {
			ex, ok := exs[tc.name]
			if !ok {
				t.Fatalf("no example %q", tc.name)
			}
			rp := &replay{ex: ex}
			srv := httptest.NewServer(rp)
			defer srv.Close()
			c, err := sc.New(sc.Options{Endpoint: srv.URL + "/", Tokens: sc.StaticToken(exampleToken), Diag: tc.diag, Retry: sc.RetryPolicy{MaxAttempts: 1}})
			if err != nil {
				t.Fatal(err)
			}
			sb, err := c.Sandbox("job-123", sc.SandboxOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := tc.run(ctx, c, sb)
			tc.check(t, got, err)
			rp.mu.Lock()
			defer rp.mu.Unlock()
			if rp.got == nil {
				t.Fatal("the client sent no request for the example")
			}
			req := ex.Request
			u, err := url.Parse(req.URL)
			if err != nil || u.Host == "" {
				t.Fatalf("example URL %q: %v", req.URL, err)
			}
			wantPath := u.RequestURI()
			if rp.got.Method != req.Method || rp.got.URL.RequestURI() != wantPath {
				t.Fatalf("sent %s %s, want %s %s", rp.got.Method, rp.got.URL.RequestURI(), req.Method, wantPath)
			}
			if got := rp.got.Header.Get("Authorization"); got != "Bearer "+exampleToken {
				t.Fatalf("Authorization = %q", got)
			}
			if !tc.sameRequest {
				return
			}
			for _, h := range []string{"Content-Type", "Accept", "X-Nimbus-Cleanup-Reason"} {
				if want := req.Headers[h]; want != "" && rp.got.Header.Get(h) != want {
					t.Fatalf("%s = %q, want %q", h, rp.got.Header.Get(h), want)
				}
			}
			var wantBody, gotBody any
			if err := json.Unmarshal(req.Body, &wantBody); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(rp.gotBody, &gotBody); err != nil {
				t.Fatalf("body is not JSON: %v\n%s", err, rp.gotBody)
			}
			if !reflect.DeepEqual(wantBody, gotBody) {
				t.Fatalf("body mismatch:\n got %s\nwant %s", rp.gotBody, req.Body)
			}
		})
	}
}
