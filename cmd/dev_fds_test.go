//go:build linux

package cmd_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// rawRPC sends one rpc request on c (a kept-alive connection) and reads
// the answer.
func rawRPC(t *testing.T, c net.Conn, br *bufio.Reader, addr, tok, id, body string) (*http.Response, string) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "POST /api/nimbus/v1/sandboxes/%s/rpc HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", id, addr, tok, len(body), body)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestDevOutOfDescriptors: when `nimbus dev` runs out of file descriptors,
// new clients get 503 with Retry-After (not a reset, not an accept error
// loop in the log), requests that need a descriptor get 503 too, and all
// is well again once descriptors are freed. The server's limit is lowered
// (prlimit) once it runs, to what it holds plus a few.
func TestDevOutOfDescriptors(t *testing.T) {
	d := startDevProc(t)
	tok := d.token(t)
	d.warm(t, tok)
	// A client connected before the limit bites.
	kept, err := net.Dial("tcp", d.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	keptR := bufio.NewReader(kept)
	if resp, body := rawRPC(t, kept, keptR, d.addr, tok, "box", `{"op":"ready","args":[]}`); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	limit := uint64(d.fds(t) + 24)
	if err := unix.Prlimit(d.cmd.Process.Pid, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: limit, Max: limit}, nil); err != nil {
		t.Fatal(err)
	}
	// Idle connections take what is left.
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	refused := func() (int, string, string) {
		c, err := net.Dial("tcp", d.addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "POST /api/nimbus/v1/sandboxes/box/rpc HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", d.addr, tok)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 503 {
			c.Close()
		} else {
			// Served ({} is no op): the kept-alive connection holds a
			// descriptor of the server.
			idle = append(idle, c)
		}
		return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
	}
	var status int
	var retry, body string
	for i := 0; i < 64 && status != 503; i++ {
		if status, retry, body = refused(); status != 503 && status != 400 {
			t.Fatalf("%d %s", status, body)
		}
	}
	if status != 503 || retry == "" || !strings.Contains(body, `"code":"E_NIMBUS_DO_OVERLOADED"`) {
		t.Fatalf("out of descriptors: %d Retry-After %q %s", status, retry, body)
	}
	// Again: still 503, and the log says it once.
	for range 5 {
		if status, _, body := refused(); status != 503 {
			t.Fatalf("%d %s", status, body)
		}
	}
	// A request that needs a descriptor, on a connection the server
	// already has: a command needs pipes.
	if resp, body := rawRPC(t, kept, keptR, d.addr, tok, "box", `{"op":"exec","args":["true"]}`); resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("exec without descriptors: %d %s", resp.StatusCode, body)
	}
	if n := strings.Count(d.stderr.String(), "out of file descriptors"); n != 1 {
		t.Fatalf("the server reported running out %d times:\n%s", n, d.stderr.String())
	}
	// Descriptors freed: served again.
	for _, c := range idle {
		c.Close()
	}
	idle = nil
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, body := rawRPC(t, kept, keptR, d.addr, tok, "box", `{"op":"exec","args":["true"]}`)
		if resp.StatusCode == 200 {
			break
		}
		if resp.StatusCode != 503 || time.Now().After(deadline) {
			t.Fatalf("after freeing: %d %s", resp.StatusCode, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Running out was not taken for the kernel refusing namespaces: the
	// sandbox is still mounted at /home/user.
	if resp, body := rawRPC(t, kept, keptR, d.addr, tok, "box", `{"op":"exec","args":["pwd"]}`); resp.StatusCode != 200 || !strings.Contains(body, `"stdout":"/home/user\n"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}
