package mcpserver_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/nimbus-sh/nimbus/internal/testh2"
	"github.com/nimbus-sh/nimbus/pkg/mcpserver"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// TestExecLostWithABrokenConnectionIsNotUnreachable: an exec tool call
// waiting on an HTTP/2 connection that another answer on it broke (headers
// over the bound, in many frames) fails with E_TRANSPORT saying that the
// command may or may not have run. The hint must not tell the model that
// the Worker could not be reached (it was: the command was sent), which
// invites running it again blindly; it says to check whether it ran.
func TestExecLostWithABrokenConnectionIsNotUnreachable(t *testing.T) {
	held := make(chan struct{})
	var once sync.Once
	srv := testh2.Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case strings.Contains(string(body), `"op":"ready"`):
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true,"result":{"ok":true,"preinstalled":[]}}`)
			return
		case strings.Contains(string(body), "/bad"):
			testh2.PadManyFrames(w.Header())
		case strings.Contains(string(body), `"op":"execStream"`):
			once.Do(func() { close(held) })
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"result":"x"}`)
	}))
	c, err := sc.New(sc.Options{Endpoint: srv.URL, Tokens: sc.StaticToken("t"),
		HTTPClient: testh2.Client(srv, sc.MaxResponseHeaderBytes),
		Retry:      sc.RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.Sandbox("job-1", sc.SandboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The exec is to share the connection with the read that breaks it.
	if _, _, err := sb.ReadFile(ctx, "/warm"); err != nil {
		t.Fatal(err)
	}
	s, err := mcpserver.New(mcpserver.Options{Sandbox: sb, SpillDir: "-", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	st, ct := mcp.NewInMemoryTransports()
	ss, err := s.MCP().Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()

	type result struct {
		res *mcp.CallToolResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "nimbus_exec", Arguments: map[string]any{"command": "make deploy"}})
		done <- result{res, err}
	}()
	select {
	case <-held:
	case r := <-done:
		t.Fatalf("exec ended before the Worker held it: %+v, %v", r.res, r.err)
	}
	if _, _, err := sb.ReadFile(ctx, "/bad"); err == nil {
		t.Fatal("the broken answer was read")
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	var text []string
	for _, c := range r.res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text = append(text, tc.Text)
		}
	}
	got := strings.Join(text, "\n")
	if !r.res.IsError || !strings.Contains(got, "E_TRANSPORT") || !strings.Contains(got, "may or may not have run") {
		t.Fatalf("exec beside the broken answer: %s; want E_TRANSPORT saying it may or may not have run", got)
	}
	if strings.Contains(got, "could not be reached") || !strings.Contains(got, "check whether it ran") {
		t.Errorf("exec beside the broken answer: %s\nwant a hint to check whether it ran, not that the Worker could not be reached", got)
	}
}
