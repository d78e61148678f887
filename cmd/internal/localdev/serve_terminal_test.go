//go:build unix

package localdev_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/nimbus-sh/nimbus/cmd/internal/localdev"
	"github.com/nimbus-sh/nimbus/internal/deadpeer"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// getPage gets a page of nimbus dev at addr on a connection of its own,
// within timeout: it needs a free slot of MaxConns.
func getPage(addr string, timeout time.Duration) error {
	hc := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Get("http://" + addr + "/s/box")
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// TestDeadPeerGivesBackItsSlot: a WebSocket, once the server has handed
// its connection over, still holds a slot of MaxConns, and is never closed
// to make room (it has no request between requests to lose: it is one
// long request). A peer that went silent (asleep, cut off without a FIN)
// used to hold that slot for ever, or for as long as a previewed app
// stayed quiet; now the backend pings it after its idle timeout, closes
// its socket (and a preview's app side) when no answer comes, and the
// slot is free again for the next client:
//
//   - terminal: the terminal socket of a session.
//   - preview: a preview WebSocket (the app's protocol, proxied).
func TestDeadPeerGivesBackItsSlot(t *testing.T) {
	const idle = time.Second
	for _, c := range []struct {
		name string
		idle func(o *localsandbox.Options)
		// dial opens the socket on the server at addr, the only slot, and
		// leaves its peer silent.
		dial func(t *testing.T, addr string) *deadpeer.Peer
	}{
		{"terminal", func(o *localsandbox.Options) { o.TerminalIdleTimeout = idle }, func(t *testing.T, addr string) *deadpeer.Peer {
			return deadpeer.Dial(t, addr, "/s/box/ws", devToken(t, token.ScopeSessionAttach))
		}},
		{"preview", func(o *localsandbox.Options) { o.PreviewIdleTimeout = idle }, dialDeadPreview},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := devServerAt(t, "127.0.0.1:0", localdev.ServeOptions{MaxConns: 1}, nil, nil, c.idle)
			dead := c.dial(t, addr)
			// Nothing more is sent, nor answered: the peer is gone.
			if err := getPage(addr, idle/2); err == nil {
				t.Fatalf("a second connection was served while the %s socket held the only slot", c.name)
			}
			if err := getPage(addr, 20*time.Second); err != nil {
				t.Fatalf("the dead peer's %s socket kept the only slot: %v", c.name, err)
			}
			// What the server sent (its ping) ends with its close: the
			// socket is gone.
			if _, err := dead.Rest(); err != nil {
				t.Fatalf("the dead peer's %s socket was not closed: %v", c.name, err)
			}
		})
	}
}

// dialDeadPreview exposes the port of a WebSocket app, which reads until
// its connection ends, in sandbox box of the server at addr, and opens a
// preview socket to it whose peer then goes silent.
func dialDeadPreview(t *testing.T, addr string) *deadpeer.Peer {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				return
			}
		}
	}))
	t.Cleanup(app.Close)
	port := strconv.Itoa(app.Listener.Addr().(*net.TCPAddr).Port)
	tok := devToken(t, token.ScopeSandboxUse, token.ScopeSessionAttach)
	one := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	req, _ := http.NewRequest("POST", "http://"+addr+"/api/nimbus/v1/sandboxes/box/rpc", strings.NewReader(`{"op":"exposePort","args":[`+port+`]}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := one.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"ok":true`) {
		t.Fatalf("exposePort: %s", b)
	}
	return deadpeer.Dial(t, addr, "/s/box/port/"+port+"/", tok)
}
