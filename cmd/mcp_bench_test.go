//go:build linux

package cmd_test

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// A tool call of a real `nimbus mcp` subprocess (stdio, tokens minted per
// request) against a real `nimbus dev`, and its floor: the same operation
// through pkg/sandboxclient against the same nimbus dev. Report the ratio
// of each pair's ns/op (Stdio/Direct):
//
//	go test ./cmd -run '^$' -bench 'MCPStdio|DevDirect' -benchtime 200x

func benchMCPStdio(b *testing.B) *mcp.ClientSession {
	d := startDevServer(b, devOptions{})
	nimbus, err := exec.LookPath("nimbus")
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(nimbus, "mcp", "--sandbox", "bench-mcp")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + b.TempDir(), "NO_COLOR=1",
		"NIMBUS_ENDPOINT=http://" + d.Addr, "JWT_SECRET=" + devSecret, "NIMBUS_TENANT=acme"}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil).Connect(context.Background(), &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cs.Close() })
	return cs
}

func benchDevDirect(b *testing.B) *sc.Sandbox {
	d := startDevServer(b, devOptions{})
	tn := "acme"
	ts := sc.TokenFunc(func(_ context.Context, sid string) (string, error) {
		return token.Issuer{Secret: devSecret}.Mint(token.Input{Tenant: &tn, SessionID: &sid, Scopes: []string{token.ScopeSandboxUse}})
	})
	c, err := sc.New(sc.Options{Endpoint: "http://" + d.Addr, Tokens: ts})
	if err != nil {
		b.Fatal(err)
	}
	sb, err := c.Sandbox("bench-mcp", sc.SandboxOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return sb
}

func benchCall(b *testing.B, cs *mcp.ClientSession, name string, args map[string]any) {
	ctx := context.Background()
	p := &mcp.CallToolParams{Name: name, Arguments: args}
	for b.Loop() {
		res, err := cs.CallTool(ctx, p)
		if err != nil || res.IsError {
			b.Fatal(err, res)
		}
	}
}

func BenchmarkMCPStdioExists(b *testing.B) {
	benchCall(b, benchMCPStdio(b), "nimbus_exists", map[string]any{"path": "/home/user"})
}

func BenchmarkDevDirectExists(b *testing.B) {
	sb := benchDevDirect(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := sb.Exists(ctx, "/home/user"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMCPStdioExec(b *testing.B) {
	benchCall(b, benchMCPStdio(b), "nimbus_exec", map[string]any{"command": "echo hi"})
}

func BenchmarkDevDirectExec(b *testing.B) {
	sb := benchDevDirect(b)
	ctx := context.Background()
	for b.Loop() {
		if res, err := sb.Exec(ctx, "echo hi", sc.ExecOptions{}); err != nil || res.ExitCode != 0 {
			b.Fatal(err, res)
		}
	}
}
