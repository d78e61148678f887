package localsandbox_test

import (
	"context"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/nimbus-sh/nimbus/internal/proctest"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// TestExecStreamClientGoneKillsSilentCommand: a streamed command that
// writes nothing is killed when its client goes away, over a real
// connection as nimbus dev serves it. No write fails to tell the server,
// so only the request's context ending does: execStream gets that
// context from ExecStream (since 504399e as a ctx, not inside the
// request), and this guards that it is still the request's.
func TestExecStreamClientGoneKillsSilentCommand(t *testing.T) {
	for _, m := range execModes {
		t.Run(m.name, func(t *testing.T) {
			s, err := localsandbox.New(localsandbox.Options{DataDir: t.TempDir(), Secret: secret, Isolation: m.iso,
				HostEnv: []string{"PATH=" + os.Getenv("PATH")}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			srv := httptest.NewServer(s)
			t.Cleanup(srv.Close)
			c, err := sc.New(sc.Options{Endpoint: srv.URL, Tokens: sc.StaticToken(mint(t, "job-1", token.ScopeSandboxUse))})
			if err != nil {
				t.Fatal(err)
			}
			sb, err := c.Sandbox("job-1", sc.SandboxOptions{})
			if err != nil {
				t.Fatal(err)
			}
			mk := proctest.Marker()
			cctx, cancel := context.WithCancel(ctx(t))
			st, err := sb.ExecStream(cctx, "echo up; exec sleep "+mk, sc.ExecOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Next(); err != nil {
				t.Fatal(err)
			}
			proctest.WaitRunning(t, mk)
			cancel()
			st.Close()
			proctest.WaitGone(t, mk)
		})
	}
}
