//go:build linux

package localdev_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/cmd/internal/localdev"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// Linux answers on every 127.0.0.0/8 address: the tests below take
// 127.0.0.1 for this machine's own tools and other loopback addresses
// for clients on the LAN (nimbus dev --allow-remote).

// asRemote makes only 127.0.0.1 this machine's own for the servers t
// starts, and keeps quiet connections from being closed for room, so that
// what a client holds depends on its share alone.
func asRemote(t *testing.T) {
	localdev.SetLocalClients(t, func(ip netip.Addr) bool { return ip == netip.MustParseAddr("127.0.0.1") })
	localdev.SetEvictGrace(t, time.Hour)
}

// dialFrom opens a connection to addr from the address from.
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// getFrom is a GET of /s/box on a new connection from the address from.
func getFrom(from, addr string) error {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext:       func(ctx context.Context, n, a string) (net.Conn, error) { return d.DialContext(ctx, n, a) },
	}}
	resp, err := c.Get("http://" + addr + "/s/box")
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// outcome is what a held connection got: an answer, or its end (err).
type outcome struct {
	status     int
	retryAfter string
	body       string
	err        error
}

// hold writes head on c and reports, on out, the answer or the end of c.
func hold(c net.Conn, head string, out chan<- outcome) {
	if _, err := io.WriteString(c, head); err != nil {
		out <- outcome{err: err}
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		out <- outcome{err: err}
		return
	}
	b, _ := io.ReadAll(resp.Body)
	out <- outcome{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(b)}
}

// refused checks that o is a refusal of a client over its share: 503
// with Retry-After, as when descriptors run out, or (too many refused at
// once) the connection closed unanswered. It reports whether o is an
// answer.
func refused(t *testing.T, o outcome) bool {
	t.Helper()
	if o.err != nil {
		var ne net.Error
		if errors.As(o.err, &ne) && ne.Timeout() {
			t.Fatalf("a connection over the client's share was held: %v", o.err)
		}
		if !errors.Is(o.err, io.EOF) && !errors.Is(o.err, io.ErrUnexpectedEOF) && !errors.Is(o.err, syscall.ECONNRESET) {
			t.Fatalf("a connection over the client's share ended with %v", o.err)
		}
		return false
	}
	if o.status != 503 || o.retryAfter != "1" || !strings.Contains(o.body, `"code":"E_NIMBUS_DO_OVERLOADED"`) {
		t.Fatalf("a connection over the client's share was answered %d (Retry-After %q) %s", o.status, o.retryAfter, o.body)
	}
	return true
}

// TestRemoteClientGetsAShare: a client from another machine opening
// hundreds of connections (slow request heads, which nimbus dev would
// otherwise hold up to the header timeout, or requests whose bodies
// drip, held up to the body timeout) holds at most its share of them,
// MaxConns/4: the rest are refused 503 with Retry-After at once, without
// their bodies being waited for, while this machine's tools and another
// client from the LAN are served.
func TestRemoteClientGetsAShare(t *testing.T) {
	asRemote(t)
	for _, kind := range []string{"slow heads", "slow bodies"} {
		t.Run(kind, func(t *testing.T) {
			addr := devServer(t, localdev.ServeOptions{HeaderTimeout: time.Hour, BodyTimeout: time.Hour, Logf: t.Logf})
			head := "GET /s/box HTTP/1.1\r\nHost: " + addr + "\r\nX-Slow: a"
			if kind == "slow bodies" {
				head = "POST /api/nimbus/v1/sandboxes/box/rpc HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + devToken(t, token.ScopeSandboxUse) +
					"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"op\":"
			}
			const hogs, share = 300, localdev.DefaultMaxConns / 4
			out := make(chan outcome, hogs)
			for range hogs {
				c := dialFrom(t, "127.0.0.2", addr)
				defer c.Close()
				go hold(c, head, out)
			}
			for _, from := range []string{"127.0.0.1", "127.0.0.3"} {
				if err := getFrom(from, addr); err != nil {
					t.Fatalf("%s not served while 127.0.0.2 holds %d connections: %v", from, hogs, err)
				}
			}
			answered := 0
			for range hogs - share {
				if refused(t, <-out) {
					answered++
				}
			}
			if answered == 0 {
				t.Fatal("no connection over the share was answered 503")
			}
			t.Logf("%d connections over the share refused, %d of them answered 503", hogs-share, answered)
			select {
			case o := <-out:
				t.Fatalf("127.0.0.2 holds fewer than its share: one more ended (%+v)", o)
			default:
			}
		})
	}
}

// TestRemoteClientsLeaveRoomForThisMachine: clients from other machines
// together hold at most three quarters of MaxConns, each within its
// share: once they do, another is refused, and this machine's tools are
// still served.
func TestRemoteClientsLeaveRoomForThisMachine(t *testing.T) {
	asRemote(t)
	addr := devServer(t, localdev.ServeOptions{MaxConns: 8, HeaderTimeout: time.Hour, BodyTimeout: time.Hour})
	head := "POST /api/nimbus/v1/sandboxes/box/rpc HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + devToken(t, token.ScopeSandboxUse) +
		"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"op\":"
	// Three clients each hold their share (2) of busy connections: the
	// third connection of each is refused.
	for _, from := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		out := make(chan outcome, 3)
		for range 3 {
			c := dialFrom(t, from, addr)
			defer c.Close()
			go hold(c, head, out)
		}
		refused(t, <-out)
	}
	// A fourth is within its own share, but the remote clients' is full.
	c := dialFrom(t, "127.0.0.5", addr)
	defer c.Close()
	out := make(chan outcome, 1)
	hold(c, head, out)
	if !refused(t, <-out) {
		t.Fatal("the first client refused was not answered 503")
	}
	for range 3 {
		if err := getFrom("127.0.0.1", addr); err != nil {
			t.Fatalf("this machine not served while the remote clients hold 6 of 8 connections: %v", err)
		}
	}
}

// TestIPv4ClientsOfADualStackListener: on a listener of both families
// (nimbus dev --allow-remote --addr [::]:8787), a client over IPv4
// arrives as an IPv4-mapped IPv6 address. It is its IPv4 address for the
// share: read as IPv6, every IPv4 client would fall in the one /64 that
// holds ::ffff:0:0/96 and share a single quarter of the connections.
func TestIPv4ClientsOfADualStackListener(t *testing.T) {
	asRemote(t)
	addr := devServerAt(t, "[::]:0", localdev.ServeOptions{MaxConns: 8, HeaderTimeout: time.Hour, BodyTimeout: time.Hour}, nil, nil)
	_, port, _ := net.SplitHostPort(addr)
	v4 := net.JoinHostPort("127.0.0.1", port)
	head := "POST /api/nimbus/v1/sandboxes/box/rpc HTTP/1.1\r\nHost: " + v4 + "\r\nAuthorization: Bearer " + devToken(t, token.ScopeSandboxUse) +
		"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"op\":"
	// 127.0.0.2 holds its share (2 of 8): its third connection is refused.
	out := make(chan outcome, 3)
	for range 3 {
		c := dialFrom(t, "127.0.0.2", v4)
		defer c.Close()
		go hold(c, head, out)
	}
	refused(t, <-out)
	// Another IPv4 client is another client, with a share of its own.
	if err := getFrom("127.0.0.3", v4); err != nil {
		t.Fatalf("127.0.0.3 not served while 127.0.0.2 holds its share: %v", err)
	}
}
