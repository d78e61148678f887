//go:build unix

package localdev_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/cmd/internal/localdev"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

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
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	head := "GET /s/box/ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Authorization: Bearer " + devToken(t, token.ScopeSessionAttach) + "\r\n\r\n"
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	// Nothing more is sent, nor answered: the peer is gone.
	get := func(timeout time.Duration) error {
		hc := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := hc.Get("http://" + addr + "/s/box")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	if err := get(idle / 2); err == nil {
		t.Fatal("a second connection was served while the terminal socket held the only slot")
	}
	if err := get(20 * time.Second); err != nil {
		t.Fatalf("the silent terminal socket kept the only slot: %v", err)
	}
	// What the server sent ends with its close: the socket is gone.
	if _, err := io.Copy(io.Discard, br); err != nil {
		t.Fatalf("the silent socket was not closed: %v", err)
	}
}
