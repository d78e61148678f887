//go:build linux

package cmd_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nimbus-sh/nimbus/internal/loadtest"
)

// fdTargets returns what each of the server's open descriptors is
// ("socket:[123]", a path, "pipe:[456]"), sorted.
func (d *devServer) fdTargets(t *testing.T) []string {
	dir := "/proc/" + strconv.Itoa(d.cmd.Process.Pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if target, err := os.Readlink(dir + "/" + e.Name()); err == nil {
			out = append(out, target)
		}
	}
	slices.Sort(out)
	return out
}

// extraFds returns the descriptors of now that were not open in base
// (each target counted as often as it is open).
func extraFds(base, now []string) []string {
	left := map[string]int{}
	for _, f := range base {
		left[f]++
	}
	var extra []string
	for _, f := range now {
		if left[f] > 0 {
			left[f]--
			continue
		}
		extra = append(extra, f)
	}
	return extra
}

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
	d := startDevServer(t, devOptions{})
	tok := d.token(t)
	d.warm(t, tok)
	// A client connected before the limit bites.
	kept, err := net.Dial("tcp", d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	keptR := bufio.NewReader(kept)
	if resp, body := rawRPC(t, kept, keptR, d.Addr, tok, "box", `{"op":"ready","args":[]}`); resp.StatusCode != 200 {
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
		c, err := net.Dial("tcp", d.Addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "POST /api/nimbus/v1/sandboxes/box/rpc HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", d.Addr, tok)
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
	if resp, body := rawRPC(t, kept, keptR, d.Addr, tok, "box", `{"op":"exec","args":["true"]}`); resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("exec without descriptors: %d %s", resp.StatusCode, body)
	}
	if n := strings.Count(d.Stderr.String(), "out of file descriptors"); n != 1 {
		t.Fatalf("the server reported running out %d times:\n%s", n, d.Stderr.String())
	}
	// Descriptors freed: served again.
	for _, c := range idle {
		c.Close()
	}
	idle = nil
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, body := rawRPC(t, kept, keptR, d.Addr, tok, "box", `{"op":"exec","args":["true"]}`)
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
	if resp, body := rawRPC(t, kept, keptR, d.Addr, tok, "box", `{"op":"exec","args":["pwd"]}`); resp.StatusCode != 200 || !strings.Contains(body, `"stdout":"/home/user\n"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

// devNulls counts the server's open descriptors on /dev/null: the one it
// keeps in reserve to answer 503 with when it runs out is one of them.
func (d *devServer) devNulls(t *testing.T) int {
	n := 0
	for _, f := range d.fdTargets(t) {
		if f == os.DevNull {
			n++
		}
	}
	return n
}

// TestDevReserveTakenAgain: a shortage so deep that even the descriptor
// `nimbus dev` keeps in reserve does not make room loses the reserve (it
// cannot be opened again at once). Once descriptors are back, the
// reserve is taken again: the next shortage is answered 503 with
// Retry-After, as the first would have been, rather than leaving new
// clients unanswered in the listen queue.
func TestDevReserveTakenAgain(t *testing.T) {
	d := startDevServer(t, devOptions{})
	tok := d.token(t)
	d.warm(t, tok)
	pid := d.cmd.Process.Pid
	var full unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &full); err != nil {
		t.Fatal(err)
	}
	setLimit := func(limit uint64) {
		t.Helper()
		if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: limit, Max: full.Max}, nil); err != nil {
			t.Fatal(err)
		}
	}
	withReserve := d.devNulls(t)
	// No descriptor above standard error can be opened: the freed reserve
	// (a higher number) accepts nothing, and is lost.
	setLimit(3)
	c, err := net.Dial("tcp", d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /s/box HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", d.Addr)
	deadline := time.Now().Add(20 * time.Second)
	for d.devNulls(t) == withReserve {
		if time.Now().After(deadline) {
			t.Fatalf("the server kept its reserve with no descriptor to spare:\n%s", d.Stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Descriptors are back: the waiting client is served.
	setLimit(full.Cur)
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("the client waiting through the shortage: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the client waiting through the shortage: %d", resp.StatusCode)
	}
	// A second shortage, from idle connections.
	setLimit(uint64(d.fds(t) + 16))
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for i := 0; ; i++ {
		if i == 64 {
			t.Fatal("64 idle connections and still no shortage")
		}
		c, err := net.Dial("tcp", d.Addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET /s/box HTTP/1.1\r\nHost: %s\r\n\r\n", d.Addr)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			c.Close()
			t.Fatalf("no answer in the second shortage (the reserve was not taken again): %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 503 {
			c.Close()
			if resp.Header.Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
			break
		}
		if resp.StatusCode != 200 {
			t.Fatalf("%d", resp.StatusCode)
		}
		idle = append(idle, c)
	}
}

// TestDevExecRecoversAtEveryShortage: a command refused for want of
// descriptors at any point of starting it (its pipes, the first /dev/null
// for its missing stdin, its init's control socket, the init's start)
// leaves nothing behind that refuses the next one. The server, with no
// command run yet, is given one descriptor more each round than it holds,
// until a command starts within that: each refused start stops one step
// further, and a failure kept from an earlier step would refuse every
// later command (TestDevOutOfDescriptors met it so under load: freed
// descriptors arrived while a command was half-started).
func TestDevExecRecoversAtEveryShortage(t *testing.T) {
	d := startDevServer(t, devOptions{})
	tok := d.token(t)
	d.warm(t, tok)
	kept, err := net.Dial("tcp", d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	keptR := bufio.NewReader(kept)
	if resp, body := rawRPC(t, kept, keptR, d.Addr, tok, "box", `{"op":"ready","args":[]}`); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	pid := d.cmd.Process.Pid
	var full unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &full); err != nil {
		t.Fatal(err)
	}
	var refusals []string
	for spare := 0; ; spare++ {
		limit := uint64(d.fds(t) + spare)
		if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: limit, Max: full.Max}, nil); err != nil {
			t.Fatal(err)
		}
		resp, body := rawRPC(t, kept, keptR, d.Addr, tok, "box", `{"op":"exec","args":["true"]}`)
		if resp.StatusCode == 200 {
			break
		}
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%d spare descriptors: %d %s", spare, resp.StatusCode, body)
		}
		refusals = append(refusals, strconv.Itoa(spare)+": "+body)
		if spare == 24 {
			t.Fatalf("a command is refused with 24 descriptors to spare; refusals by spare descriptors:\n%s", strings.Join(refusals, "\n"))
		}
	}
	if len(refusals) == 0 {
		t.Fatal("no command was refused: the server had descriptors to spare")
	}
	t.Logf("refusals by spare descriptors:\n%s", strings.Join(refusals, "\n"))
}

// TestDevManySandboxes: 10,000 distinct sandboxes (1,000 with -short) are
// written to through the real `nimbus dev`, and 300 of them each run a
// command: no error, and once the clients have gone and the idle timeouts
// have passed, the server holds no more descriptors than it did before the
// first sandbox (an idle sandbox holds none), but for the /dev/null that
// commands share. Every sandbox still works
// afterwards: its directory is opened again when it is used.
func TestDevManySandboxes(t *testing.T) {
	d := startDevServer(t, devOptions{})
	client := loadtest.NewClient(32)
	target := &loadtest.Target{Endpoint: "http://" + d.Addr, Token: d.token(t), Client: client}
	ctx := context.Background()
	// An answer says the server serves (and holds the descriptor it keeps
	// in reserve); this one, without a token, loads no sandbox.
	resp, err := client.Get("http://" + d.Addr + "/api/nimbus/v1/sandboxes/none/rpc")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	client.CloseIdleConnections()
	idle := d.fdTargets(t)
	n := 10000
	if testing.Short() {
		n = 1000
	}
	ids := loadtest.IDs("many", n)
	if r := loadtest.Run(ctx, 16, 0, n, target.WriteOp(ids)); r.Errors > 0 || r.Ops != n {
		t.Fatalf("writes to %d sandboxes: %d done, %d errors, first: %v", n, r.Ops, r.Errors, r.FirstErr)
	}
	if r := loadtest.Run(ctx, 16, 0, 300, target.ExecEachOp(ids[:300], "true")); r.Errors > 0 || r.Ops != 300 {
		t.Fatalf("commands in 300 sandboxes: %d done, %d errors, first: %v", r.Ops, r.Errors, r.FirstErr)
	}
	loaded := d.fds(t)
	client.CloseIdleConnections()
	// Idle inits and directory handles go after 15 s unused. What may stay
	// is the one /dev/null every command's missing stdio shares, opened by
	// the first command; no socket, pipe, pidfd or directory.
	settled := func() bool {
		extra := extraFds(idle, d.fdTargets(t))
		return len(extra) == 0 || len(extra) == 1 && extra[0] == os.DevNull
	}
	deadline := time.Now().Add(2 * time.Minute)
	for !settled() {
		if time.Now().After(deadline) {
			t.Fatalf("%d descriptors before the first sandbox, %d under load; two minutes after, these are still open:\n%s",
				len(idle), loaded, strings.Join(extraFds(idle, d.fdTargets(t)), "\n"))
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("descriptors: %d idle, %d right after %d sandboxes, back to %d", len(idle), loaded, n, d.fds(t))
	if r := loadtest.Run(ctx, 1, 0, 1, target.ExecEachOp([]string{ids[n-1]}, "test -f /home/user/hello.txt")); r.Errors > 0 {
		t.Fatalf("a sandbox after the idle timeouts: %v", r.FirstErr)
	}
}

// TestInheritedDescriptorsStayOut: descriptors nimbus dev inherited (from
// a shell, a CI runner) do not reach the commands of its sandboxes.
func TestInheritedDescriptorsStayOut(t *testing.T) {
	var files []*os.File
	for range 7 { // descriptors 3 to 9 of the server
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		files = append(files, r)
	}
	d := startDevServer(t, devOptions{Files: files})
	tok := d.token(t)
	c, err := net.Dial("tcp", d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	resp, body := rawRPC(t, c, br, d.Addr, tok, "fds", `{"op":"exec","args":["for n in 3 4 5 6 7 8 9; do [ -e /proc/self/fd/$n ] && echo leaked $n; done; echo checked"]}`)
	if resp.StatusCode != 200 || !strings.Contains(body, `"stdout":"checked\n"`) {
		t.Fatalf("exec: %d %s", resp.StatusCode, body)
	}
}
