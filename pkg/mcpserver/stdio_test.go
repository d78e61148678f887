//go:build unix

package mcpserver_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/mcpserver"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

const (
	initialize  = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	initialized = `{"jsonrpc":"2.0","method":"notifications/initialized"}`
)

// stdioServer returns a server on the real local backend, and its log.
func stdioServer(t *testing.T) (*mcpserver.Server, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	s, err := mcpserver.New(mcpserver.Options{
		Sandbox: handle(t, backend(t), "stdio-1", token.ScopeSandboxUse),
		Logger:  slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, logs
}

// replies decodes the server's output, by id.
func replies(t *testing.T, out string) map[string]map[string]any {
	t.Helper()
	got := map[string]map[string]any{}
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			return got
		} else if err != nil {
			t.Fatalf("%v in %q", err, out)
		}
		got[string(mustJSON(t, m["id"]))] = m
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A client that writes its requests and ends its input at once (a
// script: printf '…' | nimbus mcp) gets every reply before the server
// returns. The SDK cancelled the running requests and closed the session
// at the end of the input: not even initialize was answered.
func TestRunStdioAnswersRequestsAfterTheEndOfInput(t *testing.T) {
	s, logs := stdioServer(t)
	in := strings.Join([]string{initialize, initialized,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"nimbus_exec","arguments":{"command":"echo from-exec"}}}`,
		`{"jsonrpc":"2.0","id":"three","method":"tools/call","params":{"name":"nimbus_exists","arguments":{"path":"/"}}}`,
	}, "\n") // the last line without its newline
	out := &syncBuffer{}
	if err := s.RunStdio(testCtx(t), strings.NewReader(in), out); err != nil {
		t.Fatal(err)
	}
	got := replies(t, out.String())
	if got["1"]["result"] == nil {
		t.Errorf("initialize: %v", got["1"])
	}
	if r := string(mustJSON(t, got["2"]["result"])); !strings.Contains(r, `"stdout":"from-exec\n"`) {
		t.Errorf("exec: %s\nlogs:\n%s", r, logs)
	}
	if r := string(mustJSON(t, got[`"three"`]["result"])); !strings.Contains(r, `"exists":true`) {
		t.Errorf("exists: %s", r)
	}
}

// bigCall is a tools/call of more than MaxMessage bytes, its id before or
// after the params.
func bigCall(id string, idLast bool) io.Reader {
	pad := bytes.Repeat([]byte("a"), mcpserver.MaxMessage)
	head, tail := `{"jsonrpc":"2.0","id":`+id+`,"method":"tools/call","params":{"name":"nimbus_writeFile","arguments":{"path":"big","content":"`, `"}}}`+"\n"
	if idLast {
		head, tail = `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"nimbus_writeFile","arguments":{"path":"big","content":"`, `"}},"id":`+id+"}\n"
	}
	return io.MultiReader(strings.NewReader(head), bytes.NewReader(pad), strings.NewReader(tail))
}

// A message over MaxMessage is answered with an error naming
// CodeFrameTooLarge when its id can be found, wherever it is, and the
// session goes on. The SDK ended the session with its read error.
func TestRunStdioAnswersAnOversizedRequest(t *testing.T) {
	for _, tc := range []struct {
		id     string
		idLast bool
	}{{"7", false}, {`"seven"`, true}} {
		s, logs := stdioServer(t)
		in := io.MultiReader(strings.NewReader(initialize+"\n"+initialized+"\n"), bigCall(tc.id, tc.idLast),
			strings.NewReader(`{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"nimbus_exec","arguments":{"command":"echo still-here"}}}`+"\n"))
		out := &syncBuffer{}
		if err := s.RunStdio(testCtx(t), in, out); err != nil {
			t.Fatalf("%s: %v", tc.id, err)
		}
		got := replies(t, out.String())
		e, _ := got[tc.id]["error"].(map[string]any)
		if e == nil || e["code"] != float64(-32600) || !strings.Contains(e["message"].(string), "32 MiB") ||
			string(mustJSON(t, e["data"])) != `{"code":"E_MCP_FRAME_TOO_LARGE"}` {
			t.Errorf("%s: the oversized call got %v", tc.id, got[tc.id])
		}
		if r := string(mustJSON(t, got["8"]["result"])); !strings.Contains(r, `"stdout":"still-here\n"`) {
			t.Errorf("%s: the session did not go on: %s", tc.id, r)
		}
		if !strings.Contains(logs.String(), "code=E_MCP_FRAME_TOO_LARGE") {
			t.Errorf("%s: not logged:\n%s", tc.id, logs)
		}
	}
}

// An oversized message without an id to answer (a notification) ends the
// session with a *FrameError, once the requests read before it are
// answered.
func TestRunStdioOversizedNotificationEndsTheSession(t *testing.T) {
	s, _ := stdioServer(t)
	pad := bytes.Repeat([]byte("a"), mcpserver.MaxMessage)
	in := io.MultiReader(strings.NewReader(initialize+"\n"+initialized+"\n"+
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"nimbus_exec","arguments":{"command":"echo before"}}}`+"\n"+
		`{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"`), bytes.NewReader(pad), strings.NewReader(`"}}`+"\n"))
	out := &syncBuffer{}
	err := s.RunStdio(testCtx(t), in, out)
	var fe *mcpserver.FrameError
	if !errors.As(err, &fe) || fe.Code() != mcpserver.CodeFrameTooLarge || fe.Size <= mcpserver.MaxMessage {
		t.Fatalf("%v", err)
	}
	got := replies(t, out.String())
	if r := string(mustJSON(t, got["2"]["result"])); !strings.Contains(r, `"stdout":"before\n"`) {
		t.Errorf("the call read before was not answered: %s", r)
	}
}

// A JSON value spread over several lines is one message to the SDK's
// decoder, and a line inside it that looks like a request is none: its
// id gets no reply. RunStdio waited for that reply for ever once the
// input ended (printf '…' | nimbus mcp never exited).
func TestRunStdioMessageOverSeveralLinesDoesNotHang(t *testing.T) {
	s, _ := stdioServer(t)
	in := strings.Join([]string{initialize, initialized,
		`{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"a":`,
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"nimbus_exists","arguments":{"path":"/"}}}`,
		`}}`,
	}, "\n") + "\n"
	out := &syncBuffer{}
	if err := s.RunStdio(testCtx(t), strings.NewReader(in), out); err != nil {
		t.Fatal(err)
	}
	if got := replies(t, out.String()); got["3"] != nil {
		t.Errorf("a line inside a message was answered as a request: %v", got["3"])
	}
}

// The requests that follow a message spread over several lines (pretty-
// printed JSON, which MCP forbids but the SDK's decoder reads as one
// message) are answered before the server returns at the end of the
// input, as are that message's own request and those in a batch spread
// over lines. RunStdio stopped noting requests after such a message, so
// the end of the input cancelled the calls that followed: `printf` of a
// pretty-printed request and an exec got no reply for the exec.
func TestRunStdioAnswersRequestsAfterAMessageOverSeveralLines(t *testing.T) {
	s, logs := stdioServer(t)
	// 2025-03-26, the last version with batches.
	init := strings.Replace(initialize, "2025-06-18", "2025-03-26", 1)
	in := strings.Join([]string{init, initialized,
		`{`,
		`  "jsonrpc": "2.0", "id": 2, "method": "tools/call",`,
		`  "params": {"name": "nimbus_exec", "arguments": {"command": "echo two\n}{"}}`,
		`}`,
		`[{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"nimbus_exec","arguments":{"command":"echo three"}}},`,
		` {"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"nimbus_exec","arguments":{"command":"echo four"}}}]`,
		`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"nimbus_exec","arguments":{"command":"sleep 0.2; echo five"}}}`,
	}, "\n") + "\n"
	out := &syncBuffer{}
	if err := s.RunStdio(testCtx(t), strings.NewReader(in), out); err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]any{}
	dec := json.NewDecoder(strings.NewReader(out.String()))
	for {
		var v any
		if err := dec.Decode(&v); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("%v in %q", err, out)
		}
		ms, ok := v.([]any) // a batch's replies
		if !ok {
			ms = []any{v}
		}
		for _, m := range ms {
			m := m.(map[string]any)
			got[string(mustJSON(t, m["id"]))] = m
		}
	}
	for id, want := range map[string]string{"2": "two", "3": "three", "4": "four", "5": "five"} {
		if r := string(mustJSON(t, got[id]["result"])); !strings.Contains(r, `"stdout":"`+want+`\n`) {
			t.Errorf("id %s: %v\nlogs:\n%s", id, got[id], logs)
		}
	}
}
