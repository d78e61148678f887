package cmd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/cmd/internal/runtimecli"
	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/pkg/provision"
	"github.com/nimbus-sh/nimbus/pkg/runtimesync"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/job"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
	"github.com/nimbus-sh/nimbus/pkg/terminal"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// docTable returns the rows of the markdown table that follows heading in
// docs/exit-codes.md, as trimmed cells.
func docTable(t *testing.T, heading string) [][]string {
	t.Helper()
	return docTableIn(t, "exit-codes.md", heading)
}

// docTableIn is docTable for another page of docs/.
func docTableIn(t *testing.T, page, heading string) [][]string {
	t.Helper()
	data, err := os.ReadFile("../docs/" + page)
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(data), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("docs/%s has no %q", page, heading)
	}
	var rows [][]string
	started := false
	for _, line := range strings.Split(after, "\n") {
		if !strings.HasPrefix(line, "|") {
			if started {
				break
			}
			continue
		}
		started = true
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if strings.HasPrefix(cells[0], "---") || cells[0] == "Exit" || cells[0] == "Code" || cells[0] == "condition" {
			continue
		}
		rows = append(rows, cells)
	}
	if len(rows) == 0 {
		t.Fatalf("no rows under %q", heading)
	}
	return rows
}

// scriptedWorker answers every RPC for sandbox "e-<status>-<CODE>" with
// that error envelope, and the ids in extra with their own answer: the
// remote API's wire format for errors, nothing else.
func scriptedWorker(t *testing.T, extra map[string]remoteAnswer) *httptest.Server {
	idRE := regexp.MustCompile(`^/api/nimbus/v1/sandboxes/([^/]+)/rpc$`)
	errID := regexp.MustCompile(`^e-(\d{3})-(E_[A-Z_]+)$`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := idRE.FindStringSubmatch(r.URL.Path)
		if r.Method != http.MethodPost || m == nil {
			http.NotFound(w, r)
			return
		}
		a, ok := extra[m[1]]
		if em := errID.FindStringSubmatch(m[1]); !ok && em != nil {
			status, _ := strconv.Atoi(em[1])
			a = remoteAnswer{status: status, code: em[2], message: "scripted " + em[2]}
			ok = true
		}
		if !ok {
			t.Errorf("unexpected request for %s", m[1])
			http.NotFound(w, r)
			return
		}
		body := map[string]any{"ok": false, "error": a.message}
		if a.code != "" {
			body["code"] = a.code
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

type remoteAnswer struct {
	status        int
	code, message string
}

// runNimbus runs the nimbus binary with args in dir and env, and returns
// its exit code and stderr.
func runNimbus(t *testing.T, dir string, env []string, args ...string) (int, string) {
	t.Helper()
	bin, err := exec.LookPath("nimbus")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), stderr.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, stderr.String()
}

// TestExitCodeTable checks docs/exit-codes.md against the binary: every
// example of the first table exits with its row's code, every Worker error
// of the second table gives its exit codes for a plain command and for
// exec, and every client-side code of the third maps as written.
func TestExitCodeTable(t *testing.T) {
	remoteRows := docTable(t, "## Errors the Worker answers")
	extra := map[string]remoteAnswer{}
	for i, row := range remoteRows {
		status, _ := strconv.Atoi(row[1])
		code, msg := parseCodeCell(row[0])
		extra["row-"+strconv.Itoa(i)] = remoteAnswer{status: status, code: code, message: msg}
	}
	srv := scriptedWorker(t, extra)

	work := t.TempDir()
	if err := os.MkdirAll(filepath.Join(work, "taken"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(work, "taken", "keep.txt"), []byte("mine"), 0o644)
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + work, "XDG_CONFIG_HOME=" + filepath.Join(work, ".config"),
		"NIMBUS_DEV_DATA=" + filepath.Join(work, "dev"), "NIMBUS_ENDPOINT=" + srv.URL, "NIMBUS_TOKEN=tok-scripted",
	}

	t.Run("codes", func(t *testing.T) {
		exampleRE := regexp.MustCompile("^`(nimbus [^`]+)`$")
		for _, row := range docTable(t, "## The codes") {
			want, example := row[0], row[len(row)-1]
			m := exampleRE.FindStringSubmatch(example)
			if m == nil {
				switch want {
				case "1": // needs a second client: TestAttachTakenOverExits1
				case "130", "143": // needs a signal: TestExecInterruptedExits130, TestSignalsEndLongCommandsGracefully
				case "74": // needs a tree with a failing path: the script named
					e := cliError(sandboxcli.Error(&transfer.PartialError{Failures: []transfer.Failure{{Path: "a", Message: "a: x"}}}))
					if e.Exit != 74 || !strings.Contains(example, e.Code) {
						t.Errorf("a partial copy exits %d %s, the table says 74 (%s)", e.Exit, e.Code, example)
					}
				case "71": // needs a failing random source: the library's test named
					e := cliError(runtimecli.CLIError(&provision.Error{Kind: provision.KindOSErr, Code: provision.CodeRandomUnavailable, Message: "no random bytes"}))
					if e.Exit != 71 || !strings.Contains(example, e.Code) {
						t.Errorf("no random bytes exits %d %s, the table says 71 (%s)", e.Exit, e.Code, example)
					}
				case "75": // needs two publishers racing: the script named
					e := cliError(runtimecli.CLIError(&runtimesync.Error{Kind: runtimesync.KindConflict, Code: runtimesync.CodeCatalogConflict, Message: "changed"}))
					if e.Exit != 75 || !strings.Contains(example, e.Code) {
						t.Errorf("a catalog conflict exits %d %s, the table says 75 (%s)", e.Exit, e.Code, example)
					}
				default:
					t.Errorf("row %s has no runnable example: %q", want, example)
				}
				continue
			}
			args := strings.Fields(strings.TrimPrefix(m[1], "nimbus "))
			got, stderr := runNimbus(t, work, env, args...)
			wantCode, err := strconv.Atoi(want)
			if want == "other" {
				wantCode = 3 // the example's remote `exit 3`
			} else if err != nil {
				t.Fatalf("bad exit cell %q", want)
			}
			if got != wantCode {
				t.Errorf("%s: exit %d, the table says %s\n%s", m[1], got, want, stderr)
			}
		}
	})

	t.Run("warnings", func(t *testing.T) {
		// A drain leaves another owner's sandbox to that owner and says
		// so, exiting 0: no request is sent.
		led := filepath.Join(work, "other-owner-ledger.jsonl")
		if err := os.WriteFile(led, []byte("\n"+`{"op":"add","id":"job-1","endpoint":"`+srv.URL+`","owner":"other:_","created":"2026-12-01T00:00:00Z"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		got, stderr := runNimbus(t, work, env, "--json", "sandbox", "destroy", "--ledger="+led)
		if got != 0 || !strings.Contains(stderr, `"code":"W_LEDGER_OTHER_OWNERS"`) {
			t.Errorf("W_LEDGER_OTHER_OWNERS: exit %d\n%s", got, stderr)
		}
	})

	t.Run("remote", func(t *testing.T) {
		for i, row := range remoteRows {
			id := "row-" + strconv.Itoa(i)
			wantExit, wantExec := row[2], row[3]
			if got, stderr := runNimbus(t, work, env, "sandbox", "ready", id); strconv.Itoa(got) != wantExit {
				t.Errorf("%s (HTTP %s): sandbox ready exits %d, the table says %s\n%s", row[0], row[1], got, wantExit, stderr)
			}
			if got, stderr := runNimbus(t, work, env, "sandbox", "exec", id, "--", "true"); strconv.Itoa(got) != wantExec {
				t.Errorf("%s (HTTP %s): sandbox exec exits %d, the table says %s\n%s", row[0], row[1], got, wantExec, stderr)
			}
			if family := "`E_HTTP_<status>`"; strings.Contains(row[0], family) {
				// The code an answer without one is reported with.
				want := `"code":"E_HTTP_` + row[1] + `"`
				if got, stderr := runNimbus(t, work, env, "--json", "sandbox", "ready", id); strconv.Itoa(got) != wantExit || !strings.Contains(stderr, want) {
					t.Errorf("%s (HTTP %s): sandbox ready --json exits %d without %s\n%s", row[0], row[1], got, want, stderr)
				}
			}
		}
	})

	t.Run("local", func(t *testing.T) {
		// The codes nimbus dev answers itself, as a client receives them
		// (the scripted Worker answers "e-<status>-<code>" so).
		for _, row := range docTable(t, "## Codes the local servers answer") {
			code := strings.Trim(row[0], "`")
			id := "e-" + row[1] + "-" + code
			if got, stderr := runNimbus(t, work, env, "--json", "sandbox", "ready", id); strconv.Itoa(got) != row[2] || !strings.Contains(stderr, `"code":"`+code+`"`) {
				t.Errorf("%s (HTTP %s): sandbox ready exits %d, the table says %s\n%s", code, row[1], got, row[2], stderr)
			}
			if got, stderr := runNimbus(t, work, env, "sandbox", "exec", id, "--", "true"); got != 125 {
				t.Errorf("%s (HTTP %s): sandbox exec exits %d, not 125\n%s", code, row[1], got, stderr)
			}
		}
	})

	t.Run("client", func(t *testing.T) {
		known := map[string]error{
			"E_TIMEOUT":     context.DeadlineExceeded,
			"E_INTERRUPTED": context.Canceled,
			"E_INTERNAL":    errors.New("surprise"),
		}
		for _, code := range []string{sc.CodeTransport, sc.CodeHTTPTimeout, sc.CodeGateway, sc.CodeStreamTruncated, sc.CodeAPINotEnabled, sc.CodeBadResponse,
			sc.CodeStreamProtocol, sc.CodeWriteTooLarge, sc.CodeInvalidArgument, sc.CodeInvalidToken} {
			known[code] = &sc.Error{Code: code, Message: "test"}
		}
		known[transfer.CodePartial] = &transfer.PartialError{Failures: []transfer.Failure{{Path: "a", Message: "a: x"}}}
		for _, code := range []string{transfer.CodeVerify, transfer.CodeJoin, transfer.CodeChanged, transfer.CodeNotFound, transfer.CodeIsDirectory,
			transfer.CodeBadTarget, transfer.CodeConflict, transfer.CodeIgnoreFile, transfer.CodeLocalIO, transfer.CodeUnsafePath, transfer.CodeNoName, transfer.CodeNoParent} {
			known[code] = &transfer.Error{Code: code, Message: "test"}
		}
		known[job.CodeRuntimeInstall] = &job.RuntimeError{Spec: "python@3.12", ExitCode: 1}
		for _, row := range docTable(t, "## Errors nimbus finds itself") {
			code := strings.Trim(row[0], "`")
			if strings.HasPrefix(code, "E_TERMINAL_") {
				// session attach's own failures (run end to end in
				// session_attach_test.go).
				c := cliError(sandboxcli.AttachError(&terminal.Error{Code: code, Message: "test"}, sandboxcli.Hints{ID: "job-1"}))
				if strconv.Itoa(c.Exit) != row[1] || c.Code != code {
					t.Errorf("%s: session attach exits %d (%s), the table says %s", code, c.Exit, c.Code, row[1])
				}
				continue
			}
			if err, ok := known[code]; ok {
				c := cliError(sandboxcli.Error(err))
				if strconv.Itoa(c.Exit) != row[1] {
					t.Errorf("%s: exit %d, the table says %s", code, c.Exit, row[1])
				}
				if e := cliError(sandboxcli.ExecError(err)); row[2] != "" && strconv.Itoa(e.Exit) != row[2] {
					t.Errorf("%s: exec exit %d, the table says %s", code, e.Exit, row[2])
				}
				continue
			}
			if code == sandboxcli.CodeExitRange {
				// End to end in testdata/sandbox/exit_codes.txtar.
				status, w := sandboxcli.CommandExit(256, "256")
				if w == nil || w.Code != code || strconv.Itoa(status) != row[1] || row[1] != row[2] {
					t.Errorf("%s: remote exit 256 gives %d (warning %v), the table says %s/%s", code, status, w, row[1], row[2])
				}
				continue
			}
			// Codes the CLI raises itself, run end to end.
			var args []string
			rowEnv := env
			switch code {
			case "E_USAGE":
				args = []string{"sandbox", "ready"}
			case "E_NO_CREDENTIAL":
				rowEnv = append(env[:len(env):len(env)], "NIMBUS_TOKEN=")
				args = []string{"sandbox", "ready", "job-1"}
			case "E_CONFIG_MISSING":
				rowEnv = append(env[:len(env):len(env)], "NIMBUS_ENDPOINT=")
				args = []string{"sandbox", "ready", "job-1"}
			case "E_CONFIG_INVALID":
				rowEnv = append(env[:len(env):len(env)], "NIMBUS_HTTP_TIMEOUT=soon")
				args = []string{"sandbox", "ready", "job-1"}
			case "E_GIT_IDENTITY":
				// A hermetic git with no identity, told not to guess one.
				rowEnv = append(env[:len(env):len(env)], "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1",
					"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=user.useConfigOnly", "GIT_CONFIG_VALUE_0=true")
				args = []string{"init", filepath.Join(work, "no-git-identity"), "--git"}
			case "E_SECRET_INVALID":
				rowEnv = append(env[:len(env):len(env)], "JWT_SECRET=short")
				args = []string{"token", "mint", "--tenant", "acme", "--strict"}
			default:
				t.Errorf("row %s: no way to check it", code)
				continue
			}
			got, stderr := runNimbus(t, work, rowEnv, append([]string{"--json"}, args...)...)
			if strconv.Itoa(got) != row[1] || !strings.Contains(stderr, `"code":"`+code+`"`) {
				t.Errorf("%s: nimbus %s exits %d, the table says %s\n%s", code, strings.Join(args, " "), got, row[1], stderr)
			}
			if row[2] != "" && code != "E_USAGE" {
				got, stderr := runNimbus(t, work, rowEnv, "sandbox", "exec", "job-1", "--", "true")
				if code != "E_SECRET_INVALID" && strconv.Itoa(got) != row[2] {
					t.Errorf("%s: exec exits %d, the table says %s\n%s", code, got, row[2], stderr)
				}
			}
		}
	})
}

// TestExitCodeTableMCPAndLedger runs every row of the mcp and ledger table
// end to end and checks its exit status and code.
func TestExitCodeTableMCPAndLedger(t *testing.T) {
	work := t.TempDir()
	secret := "exit-table-secret-0123456789abcdef0123"
	tn, sid := "acme", "job-1"
	pinned, err := token.Issuer{Secret: secret}.Mint(token.Input{Tenant: &tn, SessionID: &sid, Scopes: []string{token.ScopeSandboxUse}})
	if err != nil {
		t.Fatal(err)
	}
	mustWrite := func(name, data string, mode os.FileMode) string {
		p := filepath.Join(work, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := mustWrite("key", "0123456789abcdef0123456789\n", 0o644)
	led := mustWrite("ledger.jsonl", `{"op":"add","id":"x","endpoint":"http://127.0.0.1:9","created":"2026-12-01T00:00:00Z"}`+"\n", 0o666)
	unreadable := mustWrite("unreadable.jsonl", "not a record\n", 0o600)
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + work, "XDG_CONFIG_HOME=" + filepath.Join(work, ".config"),
		"NIMBUS_DEV_DATA=" + filepath.Join(work, "dev"), "NIMBUS_ENDPOINT=http://127.0.0.1:9"}
	type example struct {
		env  []string
		args []string
	}
	examples := map[string]example{
		"E_MCP_TOKEN/65":         {[]string{"NIMBUS_TOKEN=not-a-token"}, []string{"mcp"}},
		"E_MCP_TOKEN/77":         {[]string{"NIMBUS_TOKEN=" + pinned}, []string{"mcp", "--sandbox", "job-2"}},
		"E_MCP_HTTP_ADDR/64":     {nil, []string{"mcp", "--http", "0.0.0.0:8931"}},
		"E_MCP_HTTP_KEY/77":      {nil, []string{"mcp", "--local", "--http", "127.0.0.1:0", "--http-key-file", key}},
		"E_LEDGER_UNTRUSTED/77":  {nil, []string{"sandbox", "destroy", "--ledger=" + led}},
		"E_LEDGER_UNREADABLE/65": {nil, []string{"sandbox", "destroy", "--ledger=" + unreadable}},
	}
	rows := docTable(t, "## Errors of `nimbus mcp` and the cleanup ledger")
	if len(rows) != len(examples) {
		t.Errorf("%d rows, %d examples", len(rows), len(examples))
	}
	for _, row := range rows {
		code := strings.Trim(row[0], "`")
		ex, ok := examples[code+"/"+row[1]]
		if !ok {
			t.Errorf("row %s (exit %s): no example to run", code, row[1])
			continue
		}
		got, stderr := runNimbus(t, work, append(slices.Clone(base), ex.env...), append([]string{"--json"}, ex.args...)...)
		if strconv.Itoa(got) != row[1] || !strings.Contains(stderr, `"code":"`+code+`"`) {
			t.Errorf("%s: nimbus %s exits %d, the table says %s\n%s", code, strings.Join(ex.args, " "), got, row[1], stderr)
		}
	}
}

// TestCodelessRefusalSameCode runs a sandbox command and session attach
// against a server that refuses every request (the RPC and the terminal's
// WebSocket upgrade) with 401 or 403 and no code: both report the same
// code, E_HTTP_<status>, and exit 77. session attach said E_HTTP_401 and
// the sandbox commands HTTP_401.
func TestCodelessRefusalSameCode(t *testing.T) {
	for _, status := range []int{401, 403} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			w.Write([]byte(`{"ok":false,"error":"refused by a proxy"}`))
		}))
		t.Cleanup(srv.Close)
		work := t.TempDir()
		env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + work, "XDG_CONFIG_HOME=" + filepath.Join(work, ".config"),
			"NIMBUS_ENDPOINT=" + srv.URL, "NIMBUS_TOKEN=tok-scripted"}
		codeRE := regexp.MustCompile(`"code":"([^"]*)"`)
		want := `E_HTTP_` + strconv.Itoa(status)
		for _, args := range [][]string{{"--json", "sandbox", "ready", "demo"}, {"--json", "session", "attach", "demo"}} {
			exit, stderr := runNimbus(t, work, env, args...)
			m := codeRE.FindStringSubmatch(stderr)
			if exit != 77 || m == nil || m[1] != want {
				t.Errorf("HTTP %d: nimbus %s exits %d with code %v, want 77 and %s\n%s", status, strings.Join(args, " "), exit, m, want, stderr)
			}
		}
	}
}

// parseCodeCell reads "`E_X`" or "`E_X` `MESSAGE…`" or "(no code)…".
func parseCodeCell(cell string) (code, message string) {
	if strings.HasPrefix(cell, "(") {
		return "", "scripted failure"
	}
	parts := strings.SplitN(cell, " ", 2)
	code = strings.Trim(parts[0], "`")
	message = "scripted " + code
	if len(parts) == 2 {
		message = strings.ReplaceAll(strings.Trim(parts[1], "`"), "…", "details, 42")
	}
	return code, message
}

func cliError(err error) *clierr.Error {
	var ce *clierr.Error
	if errors.As(err, &ce) {
		return ce
	}
	return &clierr.Error{}
}
