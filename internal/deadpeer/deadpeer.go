// Package deadpeer opens a WebSocket (or a connection upgraded to another
// protocol) over a raw TCP connection and then sends nothing, not even a
// pong: a peer asleep or cut off without a FIN, as the server sees it.
// The tests of the idle bounds of nimbus dev's sockets (terminal and
// preview, in package localsandbox and around it in localdev) use it.
package deadpeer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// Bound is how long a Peer waits for the server at the most: a bound on
// a test, not a synchronisation; the server's close is what its reads
// wait for.
const Bound = 40 * time.Second

// Peer is a connection that sends nothing after its upgrade.
type Peer struct {
	net.Conn
	br *bufio.Reader
	// Pings is how many pings of the server's Frame has read; none is
	// answered.
	Pings int
}

// Dial opens a WebSocket at path on the server at addr with the bearer
// token tok.
func Dial(t testing.TB, addr, path, tok string) *Peer {
	t.Helper()
	return Upgrade(t, addr, path, tok, "websocket")
}

// Upgrade switches a connection at path to protocol (with the headers of
// a WebSocket's opening handshake when it is "websocket").
func Upgrade(t testing.TB, addr, path, tok, protocol string) *Peer {
	t.Helper()
	return UpgradeHost(t, addr, addr, path, tok, protocol)
}

// UpgradeHost is Upgrade with the request's Host header set to host (a
// preview host's, say) rather than the address dialled.
func UpgradeHost(t testing.TB, addr, host, path, tok, protocol string) *Peer {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	head := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: " + protocol + "\r\nConnection: Upgrade\r\n"
	if protocol == "websocket" {
		head += "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	}
	if _, err := io.WriteString(conn, head+"Authorization: Bearer "+tok+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(Bound))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade of %s: %s", path, resp.Status)
	}
	return &Peer{Conn: conn, br: br}
}

// Frame reads the server's next WebSocket frame and returns its opcode
// and payload.
func (p *Peer) Frame() (opcode byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(p.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(p.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(p.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(p.br, payload); err != nil {
		return 0, nil, err
	}
	opcode = h[0] & 0x0f
	if opcode == 0x9 {
		p.Pings++
	}
	return opcode, payload, nil
}

// CloseFrame reads frames until the server's close frame and returns
// its code and reason.
func (p *Peer) CloseFrame() (code int, reason string, err error) {
	for {
		op, payload, err := p.Frame()
		if err != nil {
			return 0, "", err
		}
		if op == 0x8 {
			if len(payload) < 2 {
				return 0, "", errors.New("a close frame without a code")
			}
			return int(binary.BigEndian.Uint16(payload)), string(payload[2:]), nil
		}
	}
}

// UntilClosed reads frames until the connection ends; it returns nil
// when it ended at a frame's end, else how it ended (a net.Error that
// times out: it was still open after Bound).
func (p *Peer) UntilClosed() error {
	for {
		if _, _, err := p.Frame(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// Rest reads bytes until the connection ends, as io.Copy does: how many
// came, and nil when it ended with EOF.
func (p *Peer) Rest() (int64, error) {
	return io.Copy(io.Discard, p.br)
}
