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

// TestSilentTerminalSocketGivesBackItsSlot: a terminal socket, once the
// server has handed its connection to the WebSocket, still holds a slot
// of MaxConns, and is never closed to make room (it has no request
// between requests to lose: it is one long request). A peer that went
// silent (asleep, cut off without a FIN) used to hold that slot for ever;
// now the backend closes its socket after its idle timeout and an
// unanswered ping, and the slot is free again for the next client.
func TestSilentTerminalSocketGivesBackItsSlot(t *testing.T) {
	const idle = time.Second
	addr := devServerAt(t, "127.0.0.1:0", localdev.ServeOptions{MaxConns: 1}, nil, nil,
		func(o *localsandbox.Options) { o.TerminalIdleTimeout = idle })
	dead := deadpeer.Dial(t, addr, "/s/box/ws", devToken(t, token.ScopeSessionAttach))
	// Nothing more is sent, nor answered: the peer is gone.
	if err := getPage(addr, idle/2); err == nil {
		t.Fatal("a second connection was served while the terminal socket held the only slot")
	}
	if err := getPage(addr, 20*time.Second); err != nil {
		t.Fatalf("the silent terminal socket kept the only slot: %v", err)
	}
	// What the server sent ends with its close: the socket is gone.
	if _, err := dead.Rest(); err != nil {
		t.Fatalf("the silent socket was not closed: %v", err)
	}
}

// TestDeadPreviewPeerGivesBackItsSlot: a preview WebSocket (the app's
// protocol, proxied) holds a slot of MaxConns as a terminal socket does.
// A peer that vanished without a FIN used to hold it for as long as the
// app stayed quiet; now the backend pings it after its idle timeout and
// closes both sides when no answer comes, and the slot is free again.
func TestDeadPreviewPeerGivesBackItsSlot(t *testing.T) {
	const idle = time.Second
	addr := devServerAt(t, "127.0.0.1:0", localdev.ServeOptions{MaxConns: 1}, nil, nil,
		func(o *localsandbox.Options) { o.PreviewIdleTimeout = idle })
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
	defer app.Close()
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

	dead := deadpeer.Dial(t, addr, "/s/box/port/"+port+"/", tok)
	// Nothing more is sent, nor answered: the peer is gone.
	if err := getPage(addr, idle/2); err == nil {
		t.Fatal("a second connection was served while the preview socket held the only slot")
	}
	if err := getPage(addr, 20*time.Second); err != nil {
		t.Fatalf("the dead peer's preview socket kept the only slot: %v", err)
	}
	// What the server sent (its ping) ends with its close.
	if _, err := dead.Rest(); err != nil {
		t.Fatalf("the dead peer's preview socket was not closed: %v", err)
	}
}
