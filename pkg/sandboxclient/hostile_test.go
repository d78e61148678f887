package sandboxclient_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
)

// This file holds tests against servers that misbehave on purpose: a
// broken gateway, a hostile or buggy Worker. Each is a real HTTP server
// answering the remote API's routes with what such a server sends.

// opHandler answers one rpc op of a hostile server.
type opHandler func(w http.ResponseWriter, r *http.Request, args []json.RawMessage)

// hostile starts a server that answers rpc requests by op: ready succeeds
// unless ops overrides it, and any other op not in ops is E_REMOTE_OP.
func hostile(t *testing.T, ops map[string]opHandler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Op   string            `json:"op"`
			Args []json.RawMessage `json:"args"`
		}
		if !strings.HasSuffix(r.URL.Path, "/rpc") || json.NewDecoder(r.Body).Decode(&body) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if h, ok := ops[body.Op]; ok {
			h(w, r, body.Args)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if body.Op == "ready" {
			io.WriteString(w, `{"ok":true,"result":{"ok":true,"preinstalled":[]}}`)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"ok":false,"error":"Unknown Nimbus sandbox operation: `+body.Op+`","code":"E_REMOTE_OP"}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// jsonAnswer answers a fixed JSON envelope.
func jsonAnswer(body string) opHandler {
	return func(w http.ResponseWriter, _ *http.Request, _ []json.RawMessage) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}
}

// A server can nest a JSON value as deep as it likes in a readFileBytes
// answer: the envelope scanner must not recurse per level (a stack
// overflow kills the process, whatever recover does).
func TestHostileDeepNestingInBytesEnvelope(t *testing.T) {
	const depth = 20_000_000
	srv := hostile(t, map[string]opHandler{
		"stat": jsonAnswer(`{"ok":true,"result":{"type":"file","size":4,"mtime":0,"mode":33188}}`),
		"readFileBytes": func(w http.ResponseWriter, _ *http.Request, _ []json.RawMessage) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"ok":true,"junk":`)
			chunk := []byte(strings.Repeat("[", 64<<10))
			for n := 0; n < depth; n += len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		},
	})
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	_, err := sb.ReadFileTo(ctx(t), "/home/user/x", io.Discard)
	var ce *sc.Error
	if !errors.As(err, &ce) || ce.Code != sc.CodeBadResponse {
		t.Fatalf("err = %v", err)
	}
}

// A server that never stops sending (an endless junk field) is cut off
// once the answer is longer than the requested bytes can explain.
func TestHostileEndlessBytesEnvelope(t *testing.T) {
	srv := hostile(t, map[string]opHandler{
		"stat": jsonAnswer(`{"ok":true,"result":{"type":"file","size":4,"mtime":0,"mode":33188}}`),
		"readFileBytes": func(w http.ResponseWriter, r *http.Request, _ []json.RawMessage) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"ok":true,"junk":"`)
			chunk := []byte(strings.Repeat("a", 64<<10))
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		},
	})
	sb := box(t, newClient(t, srv.URL, "use", func(o *sc.Options) { o.ReadChunkSize = 1 << 20 }), "job-1")
	_, err := sb.ReadFileTo(ctx(t), "/home/user/x", io.Discard)
	if codeOf(err) != sc.CodeBadResponse || !strings.Contains(err.Error(), "the answer exceeds") {
		t.Fatalf("err = %v", err)
	}
}

// Exit codes arrive as any JSON number; the client keeps them as sent and
// never turns an unrepresentable one into 0.
func TestHostileExitCodes(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		code int
	}{
		{"0", 0}, {"3", 3}, {"256", 256}, {"-1", -1}, {"1.5", -1}, {"1e400", -1}, {"4294967296", -1},
		// Read exactly: a float would round these to 0 (a success) or to
		// an integer.
		{"1e-400", -1}, {"-1e-400", -1}, {"0.00000000000000000000000000000000000000000001", -1},
		{"2.0000000000000001", -1}, {"1e-999999999999", -1},
		// Integers however written, and zero whatever its exponent.
		{"-0", 0}, {"0.000", 0}, {"0e999999999999", 0}, {"3e0", 3}, {"1E1", 10}, {"25e-1", -1},
		{"1.2e1", 12}, {"2147483647", 2147483647}, {"-2147483648", -2147483648}, {"2147483648", -1},
		{"1e10", -1},
	} {
		frame := `{"command":"x","exitCode":` + tc.raw + `,"success":` + strconv.FormatBool(tc.code == 0) + `,"duration":1,"timestamp":1}`
		srv := hostile(t, map[string]opHandler{
			"execStream": func(w http.ResponseWriter, _ *http.Request, _ []json.RawMessage) {
				w.Header().Set("Content-Type", "application/vnd.nimbus.exec-stream")
				w.Write(append([]byte{3, 0, 0, 0, byte(len(frame))}, frame...))
			},
			"exec": jsonAnswer(`{"ok":true,"result":` + frame + `}`),
		})
		sb := box(t, newClient(t, srv.URL, "use"), "job-1")
		r, err := sb.Run(ctx(t), "x", sc.ExecOptions{}, io.Discard, io.Discard)
		if err != nil || r.ExitCode != tc.code || string(r.ExitCodeRaw) != tc.raw {
			t.Fatalf("Run %s: %+v %v", tc.raw, r, err)
		}
		r, err = sb.Exec(ctx(t), "x", sc.ExecOptions{})
		if err != nil || r.ExitCode != tc.code || string(r.ExitCodeRaw) != tc.raw {
			t.Fatalf("Exec %s: %+v %v", tc.raw, r, err)
		}
		if b, _ := json.Marshal(r); !strings.Contains(string(b), `"exitCode":`+tc.raw+`,`) {
			t.Fatalf("marshal %s: %s", tc.raw, b)
		}
	}
	// A result without a numeric exitCode is not a success.
	for _, bad := range []string{`{"command":"x","success":true}`, `{"command":"x","exitCode":null}`, `{"command":"x","exitCode":"0"}`} {
		srv := hostile(t, map[string]opHandler{"exec": jsonAnswer(`{"ok":true,"result":` + bad + `}`)})
		sb := box(t, newClient(t, srv.URL, "use"), "job-1")
		if _, err := sb.Exec(ctx(t), "x", sc.ExecOptions{}); codeOf(err) != sc.CodeBadResponse {
			t.Fatalf("%s: %v", bad, err)
		}
	}
}

// An exit record that says exitCode 0 and "success":false contradicts
// itself (the Worker sets success to exitCode == 0): it is a bad answer,
// never a success, in the stream and in a buffered result. The other
// disagreement already fails, and a record without success is read by its
// code.
func TestHostileExitContradictsSuccess(t *testing.T) {
	for _, tc := range []struct {
		record string
		code   int
		bad    bool
	}{
		{`{"command":"x","exitCode":0,"success":false,"duration":1,"timestamp":1}`, 0, true},
		{`{"command":"x","exitCode":-0,"success":false}`, 0, true},
		{`{"command":"x","exitCode":0.0,"success":false}`, 0, true},
		{`{"command":"x","exitCode":0,"success":true}`, 0, false},
		{`{"command":"x","exitCode":0}`, 0, false},
		{`{"command":"x","exitCode":3,"success":true}`, 3, false},
		{`{"command":"x","exitCode":3,"success":false}`, 3, false},
	} {
		srv := hostile(t, map[string]opHandler{
			"execStream": func(w http.ResponseWriter, _ *http.Request, _ []json.RawMessage) {
				w.Header().Set("Content-Type", "application/vnd.nimbus.exec-stream")
				w.Write(append([]byte{3, 0, 0, 0, byte(len(tc.record))}, tc.record...))
			},
			"exec":    jsonAnswer(`{"ok":true,"result":` + tc.record + `}`),
			"runCode": jsonAnswer(`{"ok":true,"result":` + tc.record + `}`),
		})
		sb := box(t, newClient(t, srv.URL, "use"), "job-1")
		r, err := sb.Run(ctx(t), "x", sc.ExecOptions{}, io.Discard, io.Discard)
		if tc.bad {
			if codeOf(err) != sc.CodeStreamProtocol || !strings.Contains(err.Error(), `"success":false`) {
				t.Fatalf("Run %s: %+v %v", tc.record, r, err)
			}
		} else if err != nil || r.ExitCode != tc.code || r.Success != strings.Contains(tc.record, `"success":true`) {
			t.Fatalf("Run %s: %+v %v", tc.record, r, err)
		}
		for name, call := range map[string]func() (*sc.ExecResult, error){
			"Exec":    func() (*sc.ExecResult, error) { return sb.Exec(ctx(t), "x", sc.ExecOptions{}) },
			"RunCode": func() (*sc.ExecResult, error) { return sb.RunCode(ctx(t), "x", sc.RunCodeOptions{}) },
		} {
			r, err := call()
			if tc.bad {
				if codeOf(err) != sc.CodeBadResponse || !strings.Contains(err.Error(), `"success":false`) {
					t.Fatalf("%s %s: %+v %v", name, tc.record, r, err)
				}
			} else if err != nil || r.ExitCode != tc.code {
				t.Fatalf("%s %s: %+v %v", name, tc.record, r, err)
			}
		}
	}
}

// gatewayPage answers n times with Cloudflare's 502 page, then lets next
// answer; it counts the requests for op.
func gatewayPage(t *testing.T, n int, next opHandler) (opHandler, *int) {
	page, err := os.ReadFile("testdata/cloudflare-502.html")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	count := 0
	return func(w http.ResponseWriter, r *http.Request, args []json.RawMessage) {
		mu.Lock()
		count++
		c := count
		mu.Unlock()
		if c <= n {
			w.Header().Set("Content-Type", "text/html; charset=UTF-8")
			w.WriteHeader(http.StatusBadGateway)
			w.Write(page)
			return
		}
		next(w, r, args)
	}, &count
}

// A 502 page from Cloudflare is a gateway error, not a disabled API: safe
// ops are retried like a 503, and when it persists the error says what
// happened, quoting the page's title.
func TestGatewayErrorsAreRetriedAndNamed(t *testing.T) {
	h, count := gatewayPage(t, 2, jsonAnswer(`{"ok":true,"result":"hello"}`))
	srv := hostile(t, map[string]opHandler{"readFile": h})
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	if s, ok, err := sb.ReadFile(ctx(t), "/x"); err != nil || !ok || s != "hello" || *count != 3 {
		t.Fatalf("%q %v %v after %d requests", s, ok, err, *count)
	}

	h, count = gatewayPage(t, 100, nil)
	srv = hostile(t, map[string]opHandler{"readFile": h, "exec": h})
	sb = box(t, newClient(t, srv.URL, "use"), "job-1")
	_, _, err := sb.ReadFile(ctx(t), "/x")
	var ce *sc.Error
	if !errors.As(err, &ce) || ce.Code != sc.CodeGateway || ce.Status != 502 || *count != 4 {
		t.Fatalf("err = %v after %d requests", err, *count)
	}
	if !strings.Contains(ce.Message, `HTTP 502 text/html: "my-nimbus.workers.dev | 502: Bad gateway"`) || !strings.Contains(ce.Message, srv.URL) {
		t.Fatalf("message %q", ce.Message)
	}
	// exec is never retried.
	*count = 0
	if _, err := sb.Exec(ctx(t), "true", sc.ExecOptions{}); codeOf(err) != sc.CodeGateway || *count != 1 {
		t.Fatalf("exec: %v after %d requests", err, *count)
	}
}

// Each kind of answer that is not the API's JSON gets its own code.
func TestUnexpectedAnswersAreClassified(t *testing.T) {
	for name, tc := range map[string]struct {
		status  int
		ctype   string
		body    string
		code    string
		message string
	}{
		"cloudflare 530":    {530, "text/html", "<html><title>Origin DNS error | 1016</title>", sc.CodeGateway, `HTTP 530 text/html: "Origin DNS error | 1016"`},
		"gateway timeout":   {504, "text/plain", "upstream request timeout", sc.CodeGateway, `HTTP 504 text/plain: "upstream request timeout"`},
		"503 without JSON":  {503, "", "", sc.CodeGateway, "HTTP 503"},
		"404 page":          {404, "text/html", "<h1>Not found</h1>", sc.CodeAPINotEnabled, "remote API not enabled on this endpoint (or wrong --endpoint/--base-path): HTTP 404 text/html"},
		"405 text":          {405, "text/plain", "Method Not Allowed", sc.CodeAPINotEnabled, "HTTP 405"},
		"200 web page":      {200, "text/html; charset=utf-8", "<!doctype html><title>My site</title>", sc.CodeAPINotEnabled, `HTTP 200 text/html: "My site"`},
		"200 garbage":       {200, "text/plain", "\x00\x01garbage\x1b[31m here", sc.CodeBadResponse, `is not a Nimbus JSON envelope (HTTP 200 text/plain: "garbage[31m here")`},
		"200 other JSON":    {200, "application/json", `{"hello":"world"}`, sc.CodeBadResponse, "is not a Nimbus JSON envelope (HTTP 200 application/json"},
		"200 cut off":       {200, "application/json", `{"ok":true,"res`, sc.CodeBadResponse, "HTTP 200"},
		"500 worker crash":  {500, "text/plain", "Error: boom", sc.CodeBadResponse, `HTTP 500 text/plain: "Error: boom"`},
		"502 JSON envelope": {502, "application/json", `{"ok":false,"error":"bad upstream","code":"E_UPSTREAM"}`, "E_UPSTREAM", "bad upstream"},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.ctype != "" {
					w.Header().Set("Content-Type", tc.ctype)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			sb := box(t, newClient(t, srv.URL, "use"), "job-1")
			_, err := sb.Exec(ctx(t), "true", sc.ExecOptions{})
			if codeOf(err) != tc.code || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("err = %v, want %s with %q", err, tc.code, tc.message)
			}
		})
	}
}

// Only a null or absent result means "no such file": a result object that
// is not a bytes wire object is a malformed answer, for every read.
func TestMalformedReadResultIsNotNotFound(t *testing.T) {
	bad := jsonAnswer(`{"ok":true,"result":{"size":"huge"}}`)
	noBase64 := jsonAnswer(`{"ok":true,"result":{"__nimbusWireType":"bytes"}}`)
	for name, h := range map[string]opHandler{"other object": bad, "no base64": noBase64} {
		srv := hostile(t, map[string]opHandler{
			"readRange":     h,
			"readFileBytes": h,
			"stat":          jsonAnswer(`{"ok":true,"result":{"type":"file","size":5,"mode":420,"mtime":0}}`),
		})
		sb := box(t, newClient(t, srv.URL, "use"), "job-1")
		_, err := sb.ReadRangeTo(ctx(t), "/f", 0, 5, io.Discard)
		if codeOf(err) != sc.CodeBadResponse || sc.IsNotFound(err) {
			t.Errorf("%s: ReadRangeTo: %v", name, err)
		}
		_, err = sb.ReadFileTo(ctx(t), "/f", io.Discard)
		if codeOf(err) != sc.CodeBadResponse || sc.IsNotFound(err) {
			t.Errorf("%s: ReadFileTo (readFileBytes): %v", name, err)
		}
		if _, _, err := sb.ReadRange(ctx(t), "/f", 0, 5); codeOf(err) != sc.CodeBadResponse {
			t.Errorf("%s: ReadRange: %v", name, err)
		}
	}
	// null and absent are a missing file.
	for _, body := range []string{`{"ok":true,"result":null}`, `{"ok":true}`} {
		srv := hostile(t, map[string]opHandler{"readRange": jsonAnswer(body)})
		sb := box(t, newClient(t, srv.URL, "use"), "job-1")
		if _, err := sb.ReadRangeTo(ctx(t), "/f", 0, 5, io.Discard); !sc.IsNotFound(err) {
			t.Errorf("%s: %v", body, err)
		}
	}
}

// "ok":true without a result (or with a null one) is a success only for
// the ops whose result may be null (a read of a missing path) or that
// return nothing: every other op's result is required, and its absence is
// a malformed answer, never a zero value (exit code 0, pid 0, an empty
// listing) that looks like success.
func TestHostileSuccessWithoutResult(t *testing.T) {
	calls := map[string]func(sb *sc.Sandbox) error{
		"exec": func(sb *sc.Sandbox) error { _, err := sb.Exec(ctx(t), "false", sc.ExecOptions{}); return err },
		"runCode": func(sb *sc.Sandbox) error {
			_, err := sb.RunCode(ctx(t), "process.exit(3)", sc.RunCodeOptions{})
			return err
		},
		"startProcess": func(sb *sc.Sandbox) error {
			_, err := sb.StartProcess(ctx(t), "sleep 9", sc.StartOptions{})
			return err
		},
		"detachExec": func(sb *sc.Sandbox) error { _, err := sb.DetachExec(ctx(t), "d"); return err },
		"readdir":    func(sb *sc.Sandbox) error { _, err := sb.ReadDir(ctx(t), "/x"); return err },
		"exists":     func(sb *sc.Sandbox) error { _, err := sb.Exists(ctx(t), "/x"); return err },
		"listProcesses": func(sb *sc.Sandbox) error {
			_, err := sb.ListProcesses(ctx(t))
			return err
		},
		"processLogs": func(sb *sc.Sandbox) error { _, err := sb.ProcessLogs(ctx(t), 7, sc.LogOptions{}); return err },
		"killProcess": func(sb *sc.Sandbox) error { _, err := sb.KillProcess(ctx(t), 7); return err },
		"listPorts":   func(sb *sc.Sandbox) error { _, err := sb.ListPorts(ctx(t)); return err },
		"exposePort":  func(sb *sc.Sandbox) error { _, err := sb.ExposePort(ctx(t), 3000, sc.ExposeOptions{}); return err },
		"listApps":    func(sb *sc.Sandbox) error { _, err := sb.ListApps(ctx(t)); return err },
		"listRuntimes": func(sb *sc.Sandbox) error {
			_, err := sb.ListRuntimes(ctx(t))
			return err
		},
		"installRuntime": func(sb *sc.Sandbox) error { _, err := sb.InstallRuntime(ctx(t), "python", false); return err },
		"destroy":        func(sb *sc.Sandbox) error { _, err := sb.Destroy(ctx(t), ""); return err },
		"ready":          func(sb *sc.Sandbox) error { _, err := sb.Ready(ctx(t)); return err },
	}
	for _, body := range []string{`{"ok":true}`, `{"ok":true,"result":null}`} {
		for op, call := range calls {
			srv := hostile(t, map[string]opHandler{op: jsonAnswer(body)})
			sb := box(t, newClient(t, srv.URL, "use"), "job-1")
			err := call(sb)
			if codeOf(err) != sc.CodeBadResponse || !strings.Contains(err.Error(), op+": the answer has no result") {
				t.Errorf("%s answering %s: %v", op, body, err)
			}
		}
	}
	// The ops whose result may be null, and the void ones, still accept it.
	for _, body := range []string{`{"ok":true}`, `{"ok":true,"result":null}`} {
		srv := hostile(t, map[string]opHandler{
			"stat": jsonAnswer(body), "readFile": jsonAnswer(body), "readlink": jsonAnswer(body),
			"readFileBytes": jsonAnswer(body), "mkdir": jsonAnswer(body),
		})
		sb := box(t, newClient(t, srv.URL, "use"), "job-1")
		if st, err := sb.Stat(ctx(t), "/x"); st != nil || err != nil {
			t.Errorf("stat %s: %v %v", body, st, err)
		}
		if _, ok, err := sb.ReadFile(ctx(t), "/x"); ok || err != nil {
			t.Errorf("readFile %s: %v %v", body, ok, err)
		}
		if _, ok, err := sb.Readlink(ctx(t), "/x"); ok || err != nil {
			t.Errorf("readlink %s: %v %v", body, ok, err)
		}
		if _, ok, err := sb.ReadFileBytes(ctx(t), "/x"); ok || err != nil {
			t.Errorf("readFileBytes %s: %v %v", body, ok, err)
		}
		if err := sb.Mkdir(ctx(t), "/x"); err != nil {
			t.Errorf("mkdir %s: %v", body, err)
		}
	}
}

// A Retry-After too large for a time.Duration (10^12 seconds, 10^20) is
// capped at the policy's MaxWait: it neither overflows into a negative
// wait (retrying at once, hammering an overloaded Worker) nor sleeps for
// ever. The error keeps a positive wait too.
func TestHostileRetryAfterIsCapped(t *testing.T) {
	for _, v := range []string{"1000000000000", "99999999999999999999", "9223372036854775808"} {
		var mu sync.Mutex
		var at []time.Time
		srv := hostile(t, map[string]opHandler{"stat": func(w http.ResponseWriter, _ *http.Request, _ []json.RawMessage) {
			mu.Lock()
			at = append(at, time.Now())
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", v)
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"ok":false,"error":"busy","code":"E_NIMBUS_DO_OVERLOADED"}`)
		}})
		const maxWait = 100 * time.Millisecond
		sb := box(t, newClient(t, srv.URL, "use", func(o *sc.Options) {
			o.Retry = sc.RetryPolicy{MaxAttempts: 2, MaxWait: maxWait, DefaultWait: time.Millisecond}
		}), "job-1")
		_, err := sb.Stat(ctx(t), "/x")
		var re *sc.RemoteError
		if !errors.As(err, &re) || re.Status != 503 {
			t.Fatalf("%s: %v", v, err)
		}
		if re.RetryAfter <= 0 || re.RetryAfter > time.Hour {
			t.Errorf("%s: RetryAfter = %v", v, re.RetryAfter)
		}
		if len(at) != 2 || at[1].Sub(at[0]) < maxWait {
			t.Errorf("%s: %d attempts, waited %v between them, want %v", v, len(at), at[len(at)-1].Sub(at[0]), maxWait)
		}
	}
}

// A Retry-After that is neither delay-seconds nor an HTTP date (RFC 9110
// §10.2.3) is read as no value, as every nimbus client reads it: the 503
// is still retried, after the policy's default wait, and the error carries
// no wait. Fractions, exponents and Inf used to be taken as seconds
// (ParseFloat), so "1e3" made the error say 16m40s and "+5" was 5 s; the
// Worker only ever sends "5" and the SDK never retries, so no server
// relies on them.
func TestHostileRetryAfterOutsideRFC9110IsTheDefaultWait(t *testing.T) {
	for _, v := range []string{"1.5", "0.5", "Inf", "1e3", "+5", "5abc", "-1", "0x10"} {
		var attempts atomic.Int32
		srv := hostile(t, map[string]opHandler{"stat": func(w http.ResponseWriter, _ *http.Request, _ []json.RawMessage) {
			attempts.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", v)
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"ok":false,"error":"busy","code":"E_NIMBUS_DO_OVERLOADED"}`)
		}})
		sb := box(t, newClient(t, srv.URL, "use", func(o *sc.Options) {
			o.Retry = sc.RetryPolicy{MaxAttempts: 2, MaxWait: 50 * time.Millisecond, DefaultWait: time.Millisecond}
		}), "job-1")
		_, err := sb.Stat(ctx(t), "/x")
		var re *sc.RemoteError
		if !errors.As(err, &re) || re.Status != 503 {
			t.Fatalf("%s: %v", v, err)
		}
		if re.RetryAfter != 0 {
			t.Errorf("%s: RetryAfter = %v, want none", v, re.RetryAfter)
		}
		if n := attempts.Load(); n != 2 {
			t.Errorf("%s: %d attempts, want 2 (a 503 with a Retry-After is retried)", v, n)
		}
	}
}

// A file read in readRange chunks that ends before the size its stat gave
// (it shrank while it was read, or the server's answers disagree) is
// E_FILE_CHANGED, not a shorter copy that looks whole.
func TestHostileChunkedReadShorterThanStat(t *testing.T) {
	srv := hostile(t, map[string]opHandler{
		"stat": jsonAnswer(`{"ok":true,"result":{"type":"file","size":40,"mtime":0,"mode":33188}}`),
		"readRange": func(w http.ResponseWriter, _ *http.Request, args []json.RawMessage) {
			var off, n int
			json.Unmarshal(args[1], &off)
			json.Unmarshal(args[2], &n)
			if off > 0 {
				n = 5
			}
			w.Header().Set("Content-Type", "application/json")
			b, _ := json.Marshal(bytes.Repeat([]byte("x"), n))
			io.WriteString(w, `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":`+string(b)+`}}`)
		},
	})
	sb := box(t, newClient(t, srv.URL, "use", func(o *sc.Options) { o.ReadChunkThreshold, o.ReadChunkSize = 16, 16 }), "job-1")
	var out bytes.Buffer
	n, err := sb.ReadFileTo(ctx(t), "/f", &out)
	if codeOf(err) != sc.CodeFileChanged || n != 21 || !strings.Contains(err.Error(), "/f") {
		t.Fatalf("%d bytes, err = %v", n, err)
	}
}

// The exit (or error) frame is always the last frame: a stream that
// carries more after it (a second exit frame with another code, output)
// is a broken server whose exit code cannot be trusted, never a success
// decided by whichever exit frame came first.
func TestHostileFramesAfterTheExitFrame(t *testing.T) {
	frame := func(kind byte, payload string) []byte {
		return append([]byte{kind, 0, 0, byte(len(payload) >> 8), byte(len(payload))}, payload...)
	}
	exit := func(code int) []byte {
		return frame(3, `{"command":"x","exitCode":`+strconv.Itoa(code)+`,"success":`+strconv.FormatBool(code == 0)+`,"duration":1,"timestamp":1}`)
	}
	for name, tail := range map[string][]byte{
		"second exit": exit(1),
		"output":      frame(1, "late\n"),
		"error frame": frame(4, `{"message":"boom"}`),
	} {
		body := append(append(frame(1, "out\n"), exit(0)...), tail...)
		srv := hostile(t, map[string]opHandler{"execStream": func(w http.ResponseWriter, _ *http.Request, _ []json.RawMessage) {
			w.Header().Set("Content-Type", "application/vnd.nimbus.exec-stream")
			w.Write(body)
		}})
		sb := box(t, newClient(t, srv.URL, "use"), "job-1")
		_, err := sb.Run(ctx(t), "x", sc.ExecOptions{}, io.Discard, io.Discard)
		if codeOf(err) != sc.CodeStreamProtocol || !strings.Contains(err.Error(), "after its last frame") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A result of the right JSON type that lacks what identifies it (a pid, a
// file type, an entry name, a port number) is malformed: zero values must
// not pass for a process 0, a file of no type, a nameless entry or port 0,
// which a script would then act on.
func TestHostileResultsWithoutTheirKeyFields(t *testing.T) {
	calls := map[string]struct {
		body string
		call func(sb *sc.Sandbox) error
	}{
		"startProcess": {`{"command":"x","startedAt":1}`, func(sb *sc.Sandbox) error {
			_, err := sb.StartProcess(ctx(t), "x", sc.StartOptions{})
			return err
		}},
		"stat": {`{"size":3}`, func(sb *sc.Sandbox) error { _, err := sb.Stat(ctx(t), "/x"); return err }},
		"readdir": {`[{"name":"a","type":"file"},{"type":"file"}]`, func(sb *sc.Sandbox) error {
			_, err := sb.ReadDir(ctx(t), "/x")
			return err
		}},
		"listProcesses": {`[null]`, func(sb *sc.Sandbox) error { _, err := sb.ListProcesses(ctx(t)); return err }},
		"listPorts":     {`[{"pid":3}]`, func(sb *sc.Sandbox) error { _, err := sb.ListPorts(ctx(t)); return err }},
	}
	for op, tc := range calls {
		srv := hostile(t, map[string]opHandler{op: jsonAnswer(`{"ok":true,"result":` + tc.body + `}`)})
		sb := box(t, newClient(t, srv.URL, "use"), "job-1")
		if err := tc.call(sb); codeOf(err) != sc.CodeBadResponse || !strings.Contains(err.Error(), op+": ") {
			t.Errorf("%s answering %s: %v", op, tc.body, err)
		}
	}
}

// A file read in one answer whose size is not the one its stat gave (the
// file changed in between, or the server's answers disagree) is
// E_FILE_CHANGED too: `files read > out` must not exit 0 with another
// length than the file it sized.
func TestHostileReadDisagreesWithStat(t *testing.T) {
	for _, data := range []string{"abcd", strings.Repeat("x", 20)} {
		b64, _ := json.Marshal([]byte(data))
		srv := hostile(t, map[string]opHandler{
			"stat":          jsonAnswer(`{"ok":true,"result":{"type":"file","size":10,"mtime":0,"mode":33188}}`),
			"readFileBytes": jsonAnswer(`{"ok":true,"result":{"__nimbusWireType":"bytes","base64":` + string(b64) + `}}`),
		})
		sb := box(t, newClient(t, srv.URL, "use"), "job-1")
		n, err := sb.ReadFileTo(ctx(t), "/f", io.Discard)
		if codeOf(err) != sc.CodeFileChanged || n != int64(len(data)) || !strings.Contains(err.Error(), "/f") {
			t.Errorf("%d bytes for a stat of 10: n %d, err %v", len(data), n, err)
		}
	}
}

// An install result without a numeric exitCode, or an ensureRuntimes
// answer without a result for every spec asked for, must not pass for a
// runtime installed: `sandbox run --runtime` would run the step without
// it and `runtimes ensure` would exit 0.
func TestHostileRuntimeResultsWithoutExitCodes(t *testing.T) {
	calls := []struct {
		op, body string
	}{
		{"installRuntime", `{"spec":"node"}`},
		{"installRuntime", `{"spec":"node","exitCode":null}`},
		{"ensureRuntimes", `[]`},
		{"ensureRuntimes", `[{"spec":"node","exitCode":0}]`},
		{"ensureRuntimes", `[{"spec":"node","exitCode":0},{"spec":"python"}]`},
		{"ensureRuntimes", `[{"spec":"node","exitCode":0},null]`},
	}
	for _, tc := range calls {
		srv := hostile(t, map[string]opHandler{tc.op: jsonAnswer(`{"ok":true,"result":` + tc.body + `}`)})
		sb := box(t, newClient(t, srv.URL, "use"), "job-1")
		var err error
		if tc.op == "installRuntime" {
			var r *sc.InstallResult
			r, err = sb.InstallRuntime(ctx(t), "node", false)
			if err == nil {
				t.Errorf("%s answering %s: exit code %d, no error", tc.op, tc.body, r.ExitCode)
				continue
			}
		} else {
			var rs []sc.InstallResult
			rs, err = sb.EnsureRuntimes(ctx(t), []string{"node", "python"}, false)
			if err == nil {
				t.Errorf("%s answering %s: %+v, no error", tc.op, tc.body, rs)
				continue
			}
		}
		if codeOf(err) != sc.CodeBadResponse || !strings.Contains(err.Error(), tc.op+": ") {
			t.Errorf("%s answering %s: %v", tc.op, tc.body, err)
		}
	}
	// A failure reported with any number is still a failure.
	srv := hostile(t, map[string]opHandler{"ensureRuntimes": jsonAnswer(`{"ok":true,"result":[{"spec":"node","exitCode":0},{"spec":"python","exitCode":1.5}]}`)})
	rs, err := box(t, newClient(t, srv.URL, "use"), "job-1").EnsureRuntimes(ctx(t), []string{"node", "python"}, false)
	if err != nil || len(rs) != 2 || rs[0].ExitCode != 0 || rs[1].ExitCode == 0 {
		t.Errorf("exit code 1.5: %+v, %v", rs, err)
	}
}

// A loss reported with no chunk (truncated, and nothing after the
// cursor) is still passed on (Logs.Lost): the remote API does not promise
// that a poll after a loss brings output. The local backend's ring always
// keeps its newest chunk, so only a hand-made answer shows this shape;
// TestFollowLogsReportsLostOutput covers a loss by the real ring.
func TestFollowLogsReportsLostOutputWithoutChunks(t *testing.T) {
	polls := []string{
		`{"pid":7,"chunks":[{"seq":3,"ts":1,"stream":"stdout","data":"a\n"}],"text":"a\n","cursor":4,"truncated":true,"exit":null}`,
		`{"pid":7,"chunks":[],"text":"","cursor":4,"truncated":false,"exit":null}`,
		`{"pid":7,"chunks":[],"text":"","cursor":9,"truncated":true,"exit":null}`,
		`{"pid":7,"chunks":[{"seq":12,"ts":2,"stream":"stdout","data":"b\n"}],"text":"b\n","cursor":13,"truncated":false,"exit":{"code":0,"at":3}}`,
	}
	var mu sync.Mutex
	n := 0
	srv := hostile(t, map[string]opHandler{"processLogs": func(w http.ResponseWriter, r *http.Request, a []json.RawMessage) {
		mu.Lock()
		body := polls[min(n, len(polls)-1)]
		n++
		mu.Unlock()
		jsonAnswer(`{"ok":true,"result":`+body+`}`)(w, r, a)
	}})
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	var got []string
	exit, err := sb.FollowLogs(ctx(t), 7, 0, time.Millisecond, func(l *sc.Logs) error {
		got = append(got, strconv.Quote(l.Text)+" lost="+strconv.FormatBool(l.Lost))
		return nil
	})
	want := []string{`"a\n" lost=false`, `"" lost=true`, `"b\n" lost=false`}
	if err != nil || exit == nil || exit.Code != 0 || strings.Join(got, ";") != strings.Join(want, ";") {
		t.Fatalf("exit %+v, err %v, polls passed %q", exit, err, got)
	}
}

// followPolls serves polls in order (the last one again and again) to
// processLogs and returns what FollowLogs handed on, poll by poll.
func followPolls(t *testing.T, polls ...string) ([]string, *sc.LogExit, error) {
	var mu sync.Mutex
	n := 0
	srv := hostile(t, map[string]opHandler{"processLogs": func(w http.ResponseWriter, r *http.Request, a []json.RawMessage) {
		mu.Lock()
		body := polls[min(n, len(polls)-1)]
		n++
		mu.Unlock()
		jsonAnswer(`{"ok":true,"result":`+body+`}`)(w, r, a)
	}})
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	var got []string
	exit, err := sb.FollowLogs(ctx(t), 7, 0, time.Millisecond, func(l *sc.Logs) error {
		var data []string
		for _, c := range l.Chunks {
			data = append(data, c.Data)
		}
		got = append(got, strconv.Quote(l.Text)+"="+strconv.Quote(strings.Join(data, "")))
		return nil
	})
	return got, exit, err
}

// A server that does not move its log cursor on, or sends chunks again
// that it sent before, must not have logs -f print the same output on
// every poll: a chunk is shown once, by its seq. A chunk without a seq
// cannot be placed and is shown as it comes.
func TestHostileFollowLogsRepeatsChunks(t *testing.T) {
	got, exit, err := followPolls(t,
		`{"pid":7,"chunks":[{"seq":0,"ts":1,"stream":"stdout","data":"a\n"},{"seq":1,"ts":1,"stream":"stdout","data":"b\n"}],"text":"a\nb\n","cursor":0,"truncated":false,"exit":null}`,
		`{"pid":7,"chunks":[{"seq":0,"ts":1,"stream":"stdout","data":"a\n"},{"seq":1,"ts":1,"stream":"stdout","data":"b\n"}],"text":"a\nb\n","cursor":0,"truncated":false,"exit":null}`,
		`{"pid":7,"chunks":[{"seq":1,"ts":1,"stream":"stdout","data":"b\n"},{"seq":2,"ts":2,"stream":"stdout","data":"c\n"}],"text":"b\nc\n","cursor":0,"truncated":false,"exit":null}`,
		`{"pid":7,"chunks":[{"seq":2,"ts":2,"stream":"stdout","data":"c\n"},{"ts":2,"stream":"stdout","data":"d\n"}],"text":"c\nd\n","cursor":3,"truncated":false,"exit":{"code":0,"at":3}}`,
	)
	want := []string{`"a\nb\n"="a\nb\n"`, `"c\n"="c\n"`, `"d\n"="d\n"`}
	if err != nil || exit == nil || exit.Code != 0 || strings.Join(got, ";") != strings.Join(want, ";") {
		t.Fatalf("exit %+v, err %v, polls passed %q", exit, err, got)
	}
}

// A cursor that goes back is another log, not a lag: an error, not the
// same output again (or, once seqs start over, new output hidden).
func TestHostileFollowLogsCursorGoesBack(t *testing.T) {
	got, exit, err := followPolls(t,
		`{"pid":7,"chunks":[{"seq":4,"ts":1,"stream":"stdout","data":"a\n"}],"text":"a\n","cursor":5,"truncated":false,"exit":null}`,
		`{"pid":7,"chunks":[{"seq":0,"ts":1,"stream":"stdout","data":"x\n"}],"text":"x\n","cursor":1,"truncated":false,"exit":{"code":0,"at":3}}`,
	)
	if codeOf(err) != sc.CodeBadResponse || !strings.Contains(err.Error(), "cursor went back from 5 to 1") || exit != nil || len(got) != 1 {
		t.Fatalf("exit %+v, err %v, polls passed %q", exit, err, got)
	}
}

// A destroy whose result does not say "ok":true (sandbox-api.md §2: the
// result is {ok:true, killed, destroyedAt, reason}) is not taken for a
// destroyed sandbox, through the op and through the REST alias.
func TestHostileDestroyNotConfirmed(t *testing.T) {
	for _, body := range []string{`{}`, `{"ok":false,"killed":0,"destroyedAt":1,"reason":null}`, `{"killed":0}`} {
		answer := `{"ok":true,"result":` + body + `}`
		srv := hostile(t, map[string]opHandler{"destroy": jsonAnswer(answer)})
		c := newClient(t, srv.URL, "destroy")
		if r, err := box(t, c, "job-1").Destroy(ctx(t), "done"); codeOf(err) != sc.CodeBadResponse || !strings.Contains(err.Error(), "destroy: ") {
			t.Errorf("destroy answering %s: %+v, %v", body, r, err)
		}
		rest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, answer)
		}))
		t.Cleanup(rest.Close)
		if r, err := newClient(t, rest.URL, "destroy").DeleteSession(ctx(t), "job-1", ""); codeOf(err) != sc.CodeBadResponse {
			t.Errorf("DELETE answering %s: %+v, %v", body, r, err)
		}
	}
}

// An error status is never a success, whatever the body says: a 5xx (or
// 4xx) answering {"ok":true,…} is the error its status gives (a
// RemoteError without a code, so the CLI maps it by status: a 503 is
// retryable, a 500 a server fault), through an op's envelope, a bytes
// read (which took it for a missing file) and the exec stream.
func TestHostileErrorStatusWithOKTrue(t *testing.T) {
	for _, status := range []int{500, 503, 404, 401} {
		answer := func(body string) opHandler {
			return func(w http.ResponseWriter, _ *http.Request, _ []json.RawMessage) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				io.WriteString(w, body)
			}
		}
		srv := hostile(t, map[string]opHandler{
			"listProcesses": answer(`{"ok":true,"result":[]}`),
			"readFileBytes": answer(`{"ok":true,"result":null}`),
			"mkdir":         answer(`{"ok":true}`),
			"readdir":       answer(`{"ok":true,"result":7}`),
			"execStream":    answer(`{"ok":true}`),
		})
		sb := box(t, newClient(t, srv.URL, "use"), "job-1")
		check := func(op string, err error) {
			t.Helper()
			var re *sc.RemoteError
			if !errors.As(err, &re) || re.Status != status || re.Code != "" || !strings.Contains(err.Error(), `"ok":true`) {
				t.Errorf("%s answering HTTP %d with ok:true: %v", op, status, err)
			}
		}
		_, err := sb.ListProcesses(ctx(t))
		check("listProcesses", err)
		_, found, err := sb.ReadFileBytes(ctx(t), "/x")
		check("readFileBytes", err)
		if found {
			t.Errorf("readFileBytes found a file at HTTP %d", status)
		}
		check("mkdir", sb.Mkdir(ctx(t), "/x"))
		_, err = sb.ReadDir(ctx(t), "/x")
		check("readdir", err)
		_, err = sb.ExecStream(ctx(t), "true", sc.ExecOptions{})
		check("execStream", err)
	}
}

// The session id CreateSession reads from POST /new's redirect follows
// the rules of every sandbox id (ValidID): one no sandbox may have (a
// space, a line break, a terminal escape, 129 bytes, non-ASCII) is
// E_BAD_RESPONSE, not an id printed and used by later commands.
func TestHostileCreateSessionInvalidID(t *testing.T) {
	for _, id := range []string{"a%20b", "x%0Ay", "%1B%5B31mred", strings.Repeat("x", 129), "%C3%A9", "a:b"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Location", "/s/"+id+"/?nimbus_token=t")
			w.WriteHeader(http.StatusFound)
		}))
		t.Cleanup(srv.Close)
		s, err := newClient(t, srv.URL, "create").CreateSession(ctx(t))
		if codeOf(err) != sc.CodeBadResponse || !strings.Contains(err.Error(), "invalid session id") || strings.ContainsAny(err.Error(), "\n\x1b") {
			t.Errorf("Location /s/%s/: %+v, %v", id, s, err)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Location", "/s/job-1.x_Y/?nimbus_token=t")
		w.WriteHeader(http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	if s, err := newClient(t, srv.URL, "create").CreateSession(ctx(t)); err != nil || s.SessionID != "job-1.x_Y" {
		t.Errorf("a valid id: %+v, %v", s, err)
	}
}

// A server's error message is kept to MaxServerText bytes, with a note of
// how much was cut, wherever an error is built from it (an op's envelope,
// the exec stream's error frame, the preview route); its stable code, and
// the errno prefix the CLI maps, stay.
func TestHostileHugeErrorMessagesAreBounded(t *testing.T) {
	huge := "ENOENT: no such file or directory, open '" + strings.Repeat("é", 24<<10) + "'"
	short := func(what string, err error) {
		t.Helper()
		msg := err.Error()
		if len(msg) > sc.MaxServerText+200 || !strings.Contains(msg, "more bytes cut)") || !utf8.ValidString(msg) {
			t.Errorf("%s: %d bytes, ending %q", what, len(msg), msg[max(0, len(msg)-80):])
		}
	}
	body, _ := json.Marshal(map[string]any{"ok": false, "error": huge, "code": sc.CodeRemoteRPC})
	srv := hostile(t, map[string]opHandler{"mkdir": func(w http.ResponseWriter, _ *http.Request, _ []json.RawMessage) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(500)
		w.Write(body)
	}})
	err := box(t, newClient(t, srv.URL, "use"), "job-1").Mkdir(ctx(t), "/x")
	short("mkdir", err)
	if codeOf(err) != sc.CodeRemoteRPC || !sc.IsNotFound(err) {
		t.Errorf("mkdir: code %q, not found %v", codeOf(err), sc.IsNotFound(err))
	}

	fake := newFake(t, sandboxtest.Options{})
	fake.SetErrorFrame(huge)
	_, err = box(t, newClient(t, fake.URL, "use"), "job-1").Run(ctx(t), "echo a", sc.ExecOptions{}, io.Discard, io.Discard)
	short("exec error frame", err)
	if codeOf(err) != sc.CodeExecFailed {
		t.Errorf("exec error frame: code %q", codeOf(err))
	}

	pbody, _ := json.Marshal(map[string]any{"error": huge, "code": "E_SCOPE_MISSING"})
	preview := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(403)
		w.Write(pbody)
	}))
	t.Cleanup(preview.Close)
	_, err = box(t, newClient(t, preview.URL, "use"), "job-1").PreviewURL(ctx(t), 3000)
	short("preview-url", err)
	if codeOf(err) != "E_SCOPE_MISSING" {
		t.Errorf("preview-url: code %q", codeOf(err))
	}
}

// A ready whose result does not say "ok":true (sandbox-api.md §2: the
// result is {ok:true, preinstalled}) is not a ready sandbox: neither
// Ready nor the ops it precedes go on as if it were, and it is not
// memoised.
func TestHostileReadyNotConfirmed(t *testing.T) {
	for _, body := range []string{`{}`, `{"ok":false,"preinstalled":[]}`, `{"preinstalled":["node"]}`} {
		var readies int
		srv := hostile(t, map[string]opHandler{
			"ready": func(w http.ResponseWriter, r *http.Request, a []json.RawMessage) {
				readies++
				jsonAnswer(`{"ok":true,"result":`+body+`}`)(w, r, a)
			},
			"readFile": jsonAnswer(`{"ok":true,"result":"text"}`),
		})
		sb := box(t, newClient(t, srv.URL, "use"), "job-1")
		if r, err := sb.Ready(ctx(t)); codeOf(err) != sc.CodeBadResponse || !strings.Contains(err.Error(), "ready: ") {
			t.Errorf("ready answering %s: %+v, %v", body, r, err)
		}
		if text, _, err := sb.ReadFile(ctx(t), "/x"); codeOf(err) != sc.CodeBadResponse {
			t.Errorf("readFile after ready answering %s: %q, %v", body, text, err)
		}
		if readies != 2 {
			t.Errorf("ready answering %s: sent %d times, want 2 (not memoised)", body, readies)
		}
	}
}

// An answer the connection cuts short (fewer bytes than its
// Content-Length, as a dropped connection or a proxy reset leaves it) is a
// transport failure, which retrying may fix: not E_BAD_RESPONSE, whose
// hint sends the user to check --endpoint. A server that sends a
// complete HTTP body of cut-off JSON is still a bad answer
// (TestUnexpectedAnswersAreClassified).
func TestHostileAnswerCutByTheConnection(t *testing.T) {
	cut := func(body string) opHandler {
		return func(w http.ResponseWriter, _ *http.Request, _ []json.RawMessage) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)+100))
			io.WriteString(w, body)
		}
	}
	srv := hostile(t, map[string]opHandler{
		"readFile":      cut(`{"ok":true,"result":"abc`),
		"readFileBytes": cut(`{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"YWJj`),
	})
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	_, _, err := sb.ReadFile(ctx(t), "/x")
	if codeOf(err) != sc.CodeTransport || !strings.Contains(err.Error(), "readFile: the connection closed") {
		t.Errorf("readFile: %v (code %q)", err, codeOf(err))
	}
	var out bytes.Buffer
	_, err = sb.ReadStatTo(ctx(t), "/x", &sc.Stat{Type: "file", Size: 3}, &out)
	if codeOf(err) != sc.CodeTransport || !strings.Contains(err.Error(), "readFileBytes: the connection closed") {
		t.Errorf("readFileBytes: %v (code %q)", err, codeOf(err))
	}
}

// POST /new's redirect is printed and opened in a browser, with a
// bootstrap token in its query: a Location on another origin than the
// endpoint (another host, port or scheme, or a protocol-relative one) is
// E_BAD_RESPONSE naming that origin, without the query, while relative and
// same-origin Locations still give the session.
func TestHostileCreateSessionOtherOrigin(t *testing.T) {
	var loc atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Location", loc.Load().(string))
		w.WriteHeader(http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	c := newClient(t, srv.URL, "create")
	for location, want := range map[string]string{
		"https://evil.example/s/job-1/?nimbus_token=s3cret":          `"https://evil.example"`,
		"//Evil.Example:8443/s/job-1/?nimbus_token=s3cret":           `"http://evil.example:8443"`,
		"http://" + u.Hostname() + ":1/s/job-1/?nimbus_token=s3cret": `"http://` + u.Hostname() + `:1"`,
		"https://" + u.Host + "/s/job-1/?nimbus_token=s3cret":        `"https://` + u.Host + `"`,
	} {
		loc.Store(location)
		s, err := c.CreateSession(ctx(t))
		if codeOf(err) != sc.CodeBadResponse || !strings.Contains(err.Error(), "redirected to "+want+", another origin") || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Location %s: %+v, %v", location, s, err)
		}
	}
	for _, location := range []string{"/s/job-1/?nimbus_token=t", "s/job-1/?nimbus_token=t", srv.URL + "/s/job-1/?nimbus_token=t", "HTTP://" + u.Host + "/s/job-1/"} {
		loc.Store(location)
		if s, err := c.CreateSession(ctx(t)); err != nil || s.SessionID != "job-1" || !strings.HasPrefix(s.URL, srv.URL+"/s/job-1/") {
			t.Errorf("Location %s: %+v, %v", location, s, err)
		}
	}
}

// The wire's member names are case-sensitive: a JavaScript client (the
// SDK) ignores "OK" next to "ok", while encoding/json takes any member
// whose name matches a field but for letter case (the Kelvin sign "\u212a"
// for k included), the last one winning. A failure whose answer also says
// "OK":true, or an exit record with exitCode 1 and "ExitCode":0, must not
// be read as a success the SDK would not see, at any depth of the answer
// (an exit record is the envelope's result); such names inside a string
// are data.
func TestHostileMemberNamesDifferingInCase(t *testing.T) {
	exitFrame := func(rec string) []byte {
		return append([]byte{3, 0, 0, byte(len(rec) >> 8), byte(len(rec))}, rec...)
	}
	for _, rec := range []string{
		`{"command":"x","exitCode":1,"success":false,"ExitCode":0,"Success":true}`,
		`{"command":"x","exitCode":1,"success":false,"EXITCODE":0,"SUCCESS":true}`,
		`{"command":"x","exitcode":0,"success":true}`,
	} {
		srv := hostile(t, map[string]opHandler{
			"exec": jsonAnswer(`{"ok":true,"result":` + rec + `}`),
			"execStream": func(w http.ResponseWriter, _ *http.Request, _ []json.RawMessage) {
				w.Header().Set("Content-Type", "application/vnd.nimbus.exec-stream")
				w.Write(exitFrame(rec))
			},
		})
		sb := box(t, newClient(t, srv.URL, "use"), "job-1")
		if r, err := sb.Exec(ctx(t), "x", sc.ExecOptions{}); codeOf(err) != sc.CodeBadResponse {
			t.Errorf("exec answering %s: %+v, %v", rec, r, err)
		}
		if r, err := sb.Run(ctx(t), "x", sc.ExecOptions{}, io.Discard, io.Discard); codeOf(err) != sc.CodeStreamProtocol {
			t.Errorf("execStream exit frame %s: %+v, %v", rec, r, err)
		}
	}
	for _, answer := range []string{
		`{"ok":false,"error":"disk full","code":"E_NIMBUS_REMOTE_RPC","OK":true}`,
		`{"ok":false,"error":"disk full","code":"E_NIMBUS_REMOTE_RPC","Ok":true}`,
		`{"ok":false,"error":"disk full","code":"E_NIMBUS_REMOTE_RPC","o` + "\u212a" + `":true}`,
		`{"ok":false,"error":"disk full","code":"E_NIMBUS_REMOTE_RPC","o\u212A":true}`,
		`{"OK":true}`,
	} {
		srv := hostile(t, map[string]opHandler{"mkdir": jsonAnswer(answer)})
		if err := box(t, newClient(t, srv.URL, "use"), "job-1").Mkdir(ctx(t), "/d"); err == nil {
			t.Errorf("mkdir answering %s: no error", answer)
		}
	}
	srv := hostile(t, map[string]opHandler{
		"destroy":     jsonAnswer(`{"ok":true,"result":{"ok":false,"killed":0,"destroyedAt":1,"reason":null,"OK":true}}`),
		"killProcess": jsonAnswer(`{"ok":true,"result":{"ok":false,"pid":7,"OK":true}}`),
	})
	sb := box(t, newClient(t, srv.URL, "destroy"), "job-1")
	if r, err := sb.Destroy(ctx(t), ""); codeOf(err) != sc.CodeBadResponse {
		t.Errorf("destroy: %+v, %v", r, err)
	}
	if r, err := sb.KillProcess(ctx(t), 7); codeOf(err) != sc.CodeBadResponse {
		t.Errorf("killProcess: %+v, %v", r, err)
	}
	// Names that look alike inside a string are data.
	rec := `{"command":"x","exitCode":0,"success":true,"stdout":"\"OK\":false, \"ExitCode\":1","stderr":""}`
	srv = hostile(t, map[string]opHandler{"exec": jsonAnswer(`{"ok":true,"result":` + rec + `,"rpcMs":1}`)})
	if r, err := box(t, newClient(t, srv.URL, "use"), "job-1").Exec(ctx(t), "x", sc.ExecOptions{}); err != nil || r.ExitCode != 0 || r.Stdout != `"OK":false, "ExitCode":1` {
		t.Errorf("nested look-alikes: %+v, %v", r, err)
	}
}

// afterTheStart is a server that reads the first 4 KiB of a request and,
// unless it is the "ready" the client sends first (answered in full),
// answers with answer without reading the rest, as a proxy with a body
// limit does.
func afterTheStart(t *testing.T, answer func(w http.ResponseWriter)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		head := make([]byte, 4096)
		n, _ := io.ReadFull(r.Body, head)
		w.Header().Set("Content-Type", "application/json")
		if bytes.Contains(head[:n], []byte(`"op":"ready"`)) {
			io.Copy(io.Discard, r.Body)
			io.WriteString(w, `{"ok":true,"result":{"ok":true,"preinstalled":[]}}`)
			return
		}
		answer(w)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// A server (or a proxy with a body limit) that answers an upload with a
// success after reading only its start did not store the file: the client
// must not report it written. Its last bytes had not even left the client.
func TestHostileSuccessBeforeTheWholeUpload(t *testing.T) {
	var calls atomic.Int32
	srv := afterTheStart(t, func(w http.ResponseWriter) {
		calls.Add(1)
		io.WriteString(w, `{"ok":true}`)
		w.(http.Flusher).Flush()
		// The handler returns, and the server stops reading the body.
	})
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	err := sb.WriteFile(ctx(t), "/home/user/big.bin", bytes.Repeat([]byte("nimbus"), 2<<20))
	if !sc.HasCode(err, sc.CodeBadResponse) || !strings.Contains(err.Error(), "before it was sent the whole request") {
		t.Fatalf("a success answered after 4 KiB of a 12 MiB upload: got %v, want %s", err, sc.CodeBadResponse)
	}
	if calls.Load() == 0 {
		t.Fatal("the upload never reached the server")
	}
	// A small write the server reads whole still succeeds.
	srv2 := hostile(t, map[string]opHandler{"writeFile": jsonAnswer(`{"ok":true}`)})
	if err := box(t, newClient(t, srv2.URL, "use"), "job-1").WriteFile(ctx(t), "/home/user/a", []byte("abc")); err != nil {
		t.Fatal(err)
	}
}

// A server that refuses an upload before reading it all (a 413 from a
// proxy's body limit) leaves the request body unread: the goroutine that
// encodes it must end all the same, or each such failure leaks one (with
// its buffers) in a long-lived process such as nimbus mcp.
func TestHostileEarlyRefusalOfAnUploadLeavesNoEncoder(t *testing.T) {
	srv := afterTheStart(t, func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		io.WriteString(w, `{"ok":false,"error":"request body too large","code":"E_TOO_LARGE"}`)
	})
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	const uploads = 3
	for range uploads {
		if err := sb.WriteFile(ctx(t), "/home/user/big.bin", bytes.Repeat([]byte("nimbus"), 2<<20)); err == nil {
			t.Fatal("a refused upload succeeded")
		}
	}
	encoders := func() int {
		buf := make([]byte, 4<<20)
		return strings.Count(string(buf[:runtime.Stack(buf, true)]), "sandboxclient.encodeBody(")
	}
	// The transport closes each body as it gives up on it, in its own
	// goroutine: wait (bounded) for the encoders to see it.
	deadline := time.Now().Add(10 * time.Second)
	for encoders() > 0 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if n := encoders(); n > 0 {
		t.Fatalf("%d of %d refused uploads left their encoding goroutine blocked for ever", n, uploads)
	}
}
