//go:build unix

package cmd_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver/apiexamples"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// TestDevReplaysTheSpecExamples replays the spec's request/response
// examples against the real `nimbus dev` over HTTP. The example's
// "node server.js" is a second `nimbus dev` started inside the sandbox (a
// real server, whatever the machine has installed). Left out: what no
// local server has (the platform's 503, a disabled API, browser sessions,
// preview hosts), the example of a Worker without JWT_SECRET (nimbus dev
// always has one), and the two policy examples (nimbus dev has no profile
// configuration; pkg/localsandbox replays them with profiles).
func TestDevReplaysTheSpecExamples(t *testing.T) {
	dev := startDevServer(t, devOptions{})
	endpoint, nimbus, data := dev.URL, dev.Nimbus, dev.Data
	sum := apiexamples.Replay(t, apiexamples.Target{
		URL: endpoint, Secret: devSecret,
		// The example's server runs in /home/user/app; the binary is
		// copied there, so the command finds it whatever it sees of the
		// host's paths.
		Server: func(port int) string {
			copyFile(t, nimbus, filepath.Join(data, "sandboxes", "acme:alice:job-123", "home", "user", "app", "bin", "nimbus"))
			return "./bin/nimbus dev --addr 127.0.0.1:" + strconv.Itoa(port) + " --data inner"
		},
	})
	t.Log(sum)
	if sum.Replayed != sum.Total-8 || sum.Matched != sum.Replayed {
		t.Fatalf("%s", sum)
	}
}

// TestDevAnswersEverySDKOp sends every op the upstream SDK sends
// (apiexamples.SDKOps, from its sandbox.ts) to the real `nimbus dev`:
// none may be answered as an unknown op. With no arguments most are
// argument errors, which is what a server that knows the op answers.
func TestDevAnswersEverySDKOp(t *testing.T) {
	endpoint := startDevServer(t, devOptions{}).URL
	tok, err := token.Issuer{Secret: devSecret}.Mint(token.Input{Tenant: ptr("acme")})
	if err != nil {
		t.Fatal(err)
	}
	ops := apiexamples.SDKOps()
	if len(ops) < 39 {
		t.Fatalf("only %d ops in the list", len(ops))
	}
	var unknown []string
	for _, op := range ops {
		b, _ := json.Marshal(map[string]any{"profile": "default", "root": "/home/user", "op": op, "args": []any{}})
		req, _ := http.NewRequest(http.MethodPost, endpoint+"/api/nimbus/v1/sandboxes/sdk-ops/rpc", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var env struct {
			OK   *bool  `json:"ok"`
			Code string `json:"code"`
		}
		// execStream with a command would answer a stream; without one it
		// is a JSON argument error like the others.
		if err := json.Unmarshal(body, &env); err != nil || env.OK == nil {
			t.Errorf("%s: %d %q is not an envelope", op, resp.StatusCode, body)
			continue
		}
		if env.Code == "E_REMOTE_OP" {
			unknown = append(unknown, op)
		}
		t.Logf("%-18s %d %s", op, resp.StatusCode, body)
	}
	if len(unknown) > 0 {
		t.Fatalf("nimbus dev answers E_REMOTE_OP to %d SDK ops: %v", len(unknown), unknown)
	}
}

func ptr[T any](v T) *T { return &v }

// copyFile copies an executable.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
