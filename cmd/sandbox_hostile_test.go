//go:build unix

package cmd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/nimbus-sh/nimbus/cmd"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/iostreams"
	"github.com/nimbus-sh/nimbus/internal/tokenleak"
	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

// Servers that misbehave on purpose, for the scripts: a buggy or hostile
// Worker, a broken gateway in front of one, a host that accepts and never
// answers. Each is a real listener; NIMBUS_ENDPOINT points at it.

func init() {
	// rawworker MODE ARGS... starts a misbehaving server and sets
	// NIMBUS_ENDPOINT to it:
	//
	//	rawworker exit NUMBER [SUCCESS]
	//	                               a Worker whose commands exit with NUMBER
	//	                               (raw JSON: 256, 1.5, -1) and "success"
	//	                               SUCCESS (default: NUMBER is 0)
	//	rawworker answer STATUS TYPE FILE [NAME=VALUE...]
	//	                               every request answers STATUS with the
	//	                               Content-Type TYPE, the extra headers
	//	                               and FILE's bytes
	//	rawworker echotoken            quotes the token it was sent in its
	//	                               errors and status lines, encoded or
	//	                               in part (NIMBUS_TOKEN is set)
	//	rawworker hang                 reads each request, never answers
	//	rawworker follow POLLS exit|stall [stuck]
	//	                               a followed process (see the mode)
	//	rawworker silent               accepts connections, never speaks
	//	                               (NIMBUS_ENDPOINT is https://)
	//	rawworker stallproxy           the same listener as an HTTPS proxy
	//	                               that never answers CONNECT
	//	                               (HTTPS_PROXY points at it;
	//	                               NIMBUS_ENDPOINT is https://nimbus.test)
	//
	// rawcount N: the server received N requests (HTTP modes).
	sandboxCmds["rawworker"] = cmdRawWorker
	// localmode FILE MODE: a local file has these permission bits.
	sandboxCmds["localmode"] = cmdMode
	sandboxCmds["rawcount"] = func(ts *testscript.TestScript, neg bool, args []string) {
		rawMu.Lock()
		n := rawCounts[ts]
		rawMu.Unlock()
		if n == nil {
			ts.Fatalf("no rawworker started")
		}
		if got := strconv.FormatInt(n.Load(), 10); (got == args[0]) == neg {
			ts.Fatalf("%s requests, want %s", got, args[0])
		}
	}
}

// rawCounts counts the requests of each script's latest rawworker.
var (
	rawMu     sync.Mutex
	rawCounts = map[*testscript.TestScript]*atomic.Int64{}
)

func cmdRawWorker(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: rawworker MODE ARGS...")
	}
	count := new(atomic.Int64)
	rawMu.Lock()
	rawCounts[ts] = count
	rawMu.Unlock()
	ts.Defer(func() {
		rawMu.Lock()
		delete(rawCounts, ts)
		rawMu.Unlock()
	})
	var h http.HandlerFunc
	switch args[0] {
	case "exit":
		code := args[1]
		// success is what a Worker sends (exitCode == 0) unless given.
		success := "false"
		if f, err := strconv.ParseFloat(code, 64); err == nil && f == 0 {
			success = "true"
		}
		if len(args) > 2 {
			success = args[2]
		}
		h = func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				Op string `json:"op"`
			}
			_ = json.NewDecoder(r.Body).Decode(&body)
			switch body.Op {
			case "ready":
				sandboxserver.WriteOK(w, map[string]any{"ok": true, "preinstalled": []any{}}, true, nil)
			case "execStream":
				sandboxserver.StartStream(w)
				payload := `{"command":"x","exitCode":` + code + `,"success":` + success + `,"duration":1,"timestamp":1}`
				frame, _ := sandboxserver.AppendFrame(nil, sandboxserver.FrameExit, []byte(payload)) // a few bytes: never too large
				_, _ = w.Write(frame)
			case "exec", "runCode":
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"ok":true,"result":{"command":"x","exitCode":`+code+`,"success":`+success+`,"duration":1,"timestamp":1,"stdout":"","stderr":""}}`)
			case "processLogs":
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"ok":true,"result":{"pid":7,"chunks":[{"seq":0,"ts":1,"stream":"stdout","data":"out\n"}],"text":"out\n","cursor":1,"truncated":false,"exit":{"code":`+code+`,"at":2}}}`)
			default:
				sandboxserver.WriteFail(w, sandboxserver.UnknownOp(body.Op))
			}
		}
	case "answer":
		status, err := strconv.Atoi(args[1])
		ts.Check(err)
		ctype := args[2]
		data, err := os.ReadFile(ts.MkAbs(args[3]))
		ts.Check(err)
		extra := args[4:]
		h = func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			for _, kv := range extra {
				k, v, _ := strings.Cut(kv, "=")
				w.Header().Set(k, v)
			}
			w.Header().Set("Content-Type", ctype)
			w.WriteHeader(status)
			_, _ = w.Write(data)
		}
	case "follow":
		// A running process whose log answers polls for a while (polls
		// lines of "out", without an exit), then, after "stall", sends the
		// headers and the start of the next answer and nothing more;
		// after "exit", says the process exited 0.
		polls, err := strconv.Atoi(args[1])
		ts.Check(err)
		then := args[2]
		// "stuck" as a fourth word: every poll sends the same chunk
		// (seq 0) and never moves the cursor on.
		stuck := len(args) > 3 && args[3] == "stuck"
		var n atomic.Int64
		release := make(chan struct{})
		ts.Defer(func() { close(release) })
		h = func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				Op string `json:"op"`
			}
			_ = json.NewDecoder(r.Body).Decode(&body)
			switch body.Op {
			case "ready":
				sandboxserver.WriteOK(w, map[string]any{"ok": true, "preinstalled": []any{}}, true, nil)
			case "processLogs":
				i := n.Add(1)
				w.Header().Set("Content-Type", "application/json")
				switch {
				case i <= int64(polls):
					seq, cursor := i-1, i
					if stuck {
						seq, cursor = 0, 0
					}
					fmt.Fprintf(w, `{"ok":true,"result":{"pid":7,"chunks":[{"seq":%d,"ts":1,"stream":"stdout","data":"out\n"}],"text":"out\n","cursor":%d,"truncated":false}}`, seq, cursor)
				case then == "exit":
					fmt.Fprintf(w, `{"ok":true,"result":{"pid":7,"chunks":[],"text":"","cursor":%d,"truncated":false,"exit":{"code":0,"at":2}}}`, i-1)
				default:
					_, _ = io.WriteString(w, `{"ok":true,"result":{"pid":7,`)
					w.(http.Flusher).Flush()
					select {
					case <-release:
					case <-r.Context().Done():
					}
				}
			case "writeProcessInput", "endProcessInput":
				sandboxserver.WriteOK(w, map[string]any{"ok": true, "pid": 7}, true, nil)
			default:
				sandboxserver.WriteFail(w, sandboxserver.UnknownOp(body.Op))
			}
		}
	case "echotoken":
		// A server that quotes the token it was sent: an error envelope
		// with the token's dots percent-encoded and its signature alone,
		// and a WebSocket upgrade refused with the token, JSON-escaped,
		// in its status line. NIMBUS_TOKEN is set to tokenleak.Token.
		ts.Setenv("NIMBUS_TOKEN", tokenleak.Token)
		h = func(w http.ResponseWriter, r *http.Request) {
			tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			sig := tok[strings.LastIndexByte(tok, '.')+1:]
			if r.Header.Get("Upgrade") != "" {
				c, buf, err := w.(http.Hijacker).Hijack()
				if err != nil {
					return
				}
				defer c.Close()
				var esc strings.Builder
				for _, b := range []byte(tok) {
					fmt.Fprintf(&esc, `\u%04x`, b)
				}
				_, _ = buf.WriteString("HTTP/1.1 400 Bad token " + esc.String() + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
				_ = buf.Flush()
				return
			}
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"ok":false,"error":"token `+strings.ReplaceAll(tok, ".", "%2E")+` refused (signature `+sig+`)","code":"E_TOKEN_CLAIMS"}`)
		}
	case "hang":
		release := make(chan struct{})
		ts.Defer(func() { close(release) })
		h = func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	case "silent", "stallproxy":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		var conns []net.Conn
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				count.Add(1)
				conns = append(conns, c)
			}
		}()
		ts.Defer(func() {
			ln.Close()
			<-done
			for _, c := range conns {
				c.Close()
			}
		})
		if args[0] == "stallproxy" {
			ts.Setenv("HTTPS_PROXY", "http://"+ln.Addr().String())
			ts.Setenv("NIMBUS_ENDPOINT", "https://nimbus.test")
			return
		}
		ts.Setenv("NIMBUS_ENDPOINT", "https://"+ln.Addr().String())
		return
	default:
		ts.Fatalf("rawworker: unknown mode %q", args[0])
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		count.Add(1)
		h(w, r)
	}))
	ts.Defer(srv.Close)
	ts.Setenv("NIMBUS_ENDPOINT", srv.URL)
}

// What a server says in an error is shown on a terminal without the
// characters a terminal interprets (escape sequences, CR, BEL, bidi
// overrides); programs reading JSON get it escaped, intact.
func TestServerErrorTextIsStrippedOnTerminal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Op string `json:"op"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body.Op == "ready" {
			sandboxserver.WriteOK(w, map[string]any{"ok": true, "preinstalled": []any{}}, true, nil)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(500)
		_, _ = io.WriteString(w, `{"ok":false,"error":"EACCES: \u001b]0;owned\u0007denied\u001b[2J\r\u202eevil\u009b31m","code":"E_NIMBUS_REMOTE_RPC\u001b[5m"}`)
	}))
	defer srv.Close()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("NIMBUS_ENDPOINT", srv.URL)
	t.Setenv("NIMBUS_TOKEN", "tok")
	t.Chdir(t.TempDir())
	// A 500 whose code is not one the table knows (it carries an escape)
	// exits 70, as docs/exit-codes.md says.
	code, _, stderr := runTTY(t, nil, "", "sandbox", "files", "ls", "job-1", "--no-color")
	if code != 70 {
		t.Fatalf("exit %d: %q", code, stderr)
	}
	if strings.ContainsAny(stderr, "\x1b\x07\r\u202e\u009b") {
		t.Fatalf("terminal output keeps control characters: %q", stderr)
	}
	if !strings.Contains(stderr, "EACCES: ]0;owneddenied[2Jevil31m (E_NIMBUS_REMOTE_RPC[5m)") {
		t.Fatalf("stderr %q", stderr)
	}
	// Not a terminal: one JSON line, the text escaped, nothing lost.
	ios, _, _, errOut := iostreams.Test()
	f := cmdutil.New()
	f.IOStreams = ios
	if code := cmd.Run(context.Background(), f, []string{"sandbox", "files", "ls", "job-1"}); code != 70 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(errOut.String(), `\u001b]0;owned\u0007denied`) {
		t.Fatalf("JSON stderr %q", errOut.String())
	}
}

// What a sandbox names (files, processes, runtimes, apps) reaches a
// terminal in tables without the characters a terminal interprets: a
// file name or a process command line chosen in the sandbox cannot
// retitle the window, clear the screen, reorder text or fake a row. File
// names are quoted as cp quotes them; other cells lose the controls.
func TestServerTextInTablesIsNeutralisedOnTerminal(t *testing.T) {
	const evil = "\u001b]0;owned\u0007\u001b[2J\r\u202e\u009b31m"
	answers := map[string]string{
		"ready":         `{"ok":true,"preinstalled":["py` + evil + `thon"],"diagnostics":["host` + evil + `paths"]}`,
		"readdir":       `[{"name":"a` + evil + `b","type":"file"},{"name":"dir\nfake","type":"directory"}]`,
		"stat":          `{"type":"fi` + evil + `le","size":1,"mtime":0,"mode":420}`,
		"listProcesses": `[{"pid":7,"command":"sleep` + evil + ` 9","argv":[],"cwd":"/","state":"run` + evil + `ning","exitCode":null,"startTime":0,"endTime":null,"longRunning":false,"attachedTty":false}]`,
		"listRuntimes":  `{"installed":[{"name":"no` + evil + `de","version":"2` + evil + `2"}],"available":[{"name":"ru` + evil + `by","defaultVersion":"3` + evil + `3"}]}`,
		"listApps":      `[{"owner":"ow` + evil + `ner","name":"na` + evil + `me","port":3000,"pid":7,"status":"fai` + evil + `led","visibility":"sco` + evil + `ped","capability":null,"restart":"never","diagnostic":"di` + evil + `ag","url":"http://u` + evil + `rl"}]`,
		"removeApp":     `{"owner":"ow` + evil + `ner","removed":true,"port":3000}`,
	}
	// In JSON the escapes arrive intact (\u001b); on the terminal they go.
	for k, v := range answers {
		answers[k] = strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(v,
			"\u001b", `\u001b`), "\u0007", `\u0007`), "\r", `\r`), "\u202e", `\u202e`), "\u009b", `\u009b`), "\n", `\n`)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Op string `json:"op"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"result":`+answers[body.Op]+`}`)
	}))
	defer srv.Close()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("NIMBUS_ENDPOINT", srv.URL)
	t.Setenv("NIMBUS_TOKEN", "tok")
	t.Chdir(t.TempDir())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ready", "job-1"}, "preinstalled: py]0;owned[2J31mthon"},
		{[]string{"files", "ls", "job-1"}, `"a\x1b]0;owned\a\x1b[2J\r\u202e\u009b31mb"`},
		{[]string{"files", "stat", "job-1", "f"}, "type:  fi]0;owned[2J31mle"},
		{[]string{"ps", "job-1"}, "sleep]0;owned[2J31m 9"},
		{[]string{"runtimes", "list", "job-1"}, "ru]0;owned[2J31mby"},
		{[]string{"apps", "list", "job-1"}, "ow]0;owned[2J31mner"},
		// An owner is a target (owner:…): quoted, so that it can be given
		// back.
		{[]string{"apps", "remove", "job-1", "web"}, `Removed app "ow\x1b]0;owned\a\x1b[2J\r\u202e\u009b31mner" (port 3000)`},
	} {
		code, stdout, stderr := runTTY(t, nil, "", append(append([]string{"sandbox"}, tc.args...), "--no-color")...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %q", tc.args, code, stderr)
		}
		if strings.ContainsAny(stdout+stderr, "\x1b\x07\r\u202e\u009b") || strings.Contains(stdout, "\nfake") {
			t.Errorf("%v: terminal output keeps control characters:\n%q\n%q", tc.args, stdout, stderr)
		}
		if !strings.Contains(stdout, tc.want) {
			t.Errorf("%v: stdout %q lacks %q", tc.args, stdout, tc.want)
		}
	}
}

// A terminal server's close reason is its own text: `session attach`
// prints it without the characters a terminal interprets.
func TestAttachCloseReasonIsNeutralisedOnTerminal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		ws.Close(websocket.StatusNormalClosure, "bye\u001b]0;owned\u0007\u001b[2J\r\u202e\u009b31m!")
	}))
	defer srv.Close()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("NIMBUS_ENDPOINT", srv.URL)
	t.Setenv("NIMBUS_TOKEN", "tok")
	t.Chdir(t.TempDir())
	code, stdout, stderr := runTTY(t, nil, "", "session", "attach", "demo", "--no-color")
	if code != 0 {
		t.Fatalf("exit %d: %q %q", code, stdout, stderr)
	}
	if strings.ContainsAny(stdout+stderr, "\x1b\x07\r\u202e\u009b") {
		t.Fatalf("terminal output keeps control characters: %q", stderr)
	}
	if !strings.Contains(stderr, "the server closed the terminal of demo (bye]0;owned[2J31m!)") {
		t.Fatalf("stderr %q", stderr)
	}
}

// A CI secret pasted with a line break, or saved with a byte order mark,
// is still the one token: NIMBUS_TOKEN is trimmed as a token file is (a
// token never holds spaces). What is left must be one token: a space or a
// control character inside it is refused before anything is sent, naming
// where it came from.
func TestTokenFromEnvironmentIsTrimmed(t *testing.T) {
	srv := sandboxTTY(t, "use")
	tok := os.Getenv("NIMBUS_TOKEN")
	for _, v := range []string{tok + "\n", tok + "\r\n", "\ufeff" + tok, "  " + tok + "\t"} {
		t.Setenv("NIMBUS_TOKEN", v)
		if code, _, stderr := runTTY(t, nil, "", "sandbox", "files", "ls", "job-1"); code != 0 {
			t.Errorf("NIMBUS_TOKEN %q: exit %d: %s", v, code, stderr)
		}
	}
	before := len(srv.Requests())
	for _, v := range []string{tok + "\n" + tok, tok[:10] + " " + tok[10:]} {
		t.Setenv("NIMBUS_TOKEN", v)
		code, _, stderr := runTTY(t, nil, "", "sandbox", "files", "ls", "job-1", "--no-color")
		if code != 78 || !strings.Contains(stderr, "NIMBUS_TOKEN") || !strings.Contains(stderr, "E_TOKEN_INVALID") || strings.Contains(stderr, tok[10:20]) {
			t.Errorf("NIMBUS_TOKEN %q: exit %d: %s", v, code, stderr)
		}
	}
	if n := len(srv.Requests()); n != before {
		t.Errorf("%d requests sent with a broken token", n-before)
	}
}
