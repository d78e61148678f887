//go:build unix

package mcpserver_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/nimbus-sh/nimbus/pkg/mcpserver"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// The MCP layer's cost per call, against its floor: the same operation
// through pkg/sandboxclient directly, on the same local backend. Report the
// ratio of the ns/op of each pair (Tool/Direct).

func benchServer(b *testing.B) (*mcp.ClientSession, func(context.Context) error) {
	cs, sb := benchSetup(b)
	return cs, func(ctx context.Context) error { _, err := sb.Exists(ctx, "/home/user/f.txt"); return err }
}

func benchSetup(b *testing.B) (*mcp.ClientSession, *sc.Sandbox) {
	url := backendB(b)
	sb := handleB(b, url, "bench-1", token.ScopeSandboxUse)
	s, err := mcpserver.New(mcpserver.Options{Sandbox: sb, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := s.MCP().Connect(ctx, st, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cs.Close() })
	if err := sb.WriteFileText(ctx, "/home/user/f.txt", "hello"); err != nil {
		b.Fatal(err)
	}
	return cs, sb
}

func BenchmarkExistsTool(b *testing.B) {
	cs, _ := benchServer(b)
	ctx := context.Background()
	p := &mcp.CallToolParams{Name: "nimbus_exists", Arguments: map[string]any{"path": "f.txt"}}
	for b.Loop() {
		res, err := cs.CallTool(ctx, p)
		if err != nil || res.IsError {
			b.Fatal(err, res)
		}
	}
}

func BenchmarkExistsDirect(b *testing.B) {
	_, direct := benchServer(b)
	ctx := context.Background()
	for b.Loop() {
		if err := direct(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExecTool(b *testing.B) {
	cs, _ := benchServer(b)
	ctx := context.Background()
	p := &mcp.CallToolParams{Name: "nimbus_exec", Arguments: map[string]any{"command": "echo hi"}}
	for b.Loop() {
		res, err := cs.CallTool(ctx, p)
		if err != nil || res.IsError {
			b.Fatal(err, res)
		}
	}
}

func BenchmarkExecDirect(b *testing.B) {
	_, sb := benchSetup(b)
	ctx := context.Background()
	for b.Loop() {
		res, err := sb.Exec(ctx, "echo hi", sc.ExecOptions{})
		if err != nil || res.ExitCode != 0 {
			b.Fatal(err, res)
		}
	}
}
