package localsandbox

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestListenerSourcesAgree: sock_diag and /proc/net/tcp see this test's
// own listener (IPv4 and IPv6) under the same inode and port, and the
// socket is found among this process's descriptors.
func TestListenerSourcesAgree(t *testing.T) {
	var lns []net.Listener
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Logf("%s: %v", addr, err)
			continue
		}
		defer ln.Close()
		lns = append(lns, ln)
	}
	if len(lns) == 0 {
		t.Fatal("no loopback listener")
	}
	nl, err := listenInodesNetlink()
	if err != nil {
		t.Fatalf("sock_diag: %v", err)
	}
	pr := listenInodesProc()
	// The inodes of this process's sockets.
	mine := map[uint64]bool{}
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		link, _ := os.Readlink("/proc/self/fd/" + e.Name())
		if rest, ok := strings.CutPrefix(link, "socket:["); ok {
			n, _ := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64)
			mine[n] = true
		}
	}
	for _, ln := range lns {
		port := ln.Addr().(*net.TCPAddr).Port
		found := 0
		for ino, p := range nl {
			if p == port && mine[ino] {
				found++
				if pr[ino] != port {
					t.Errorf("port %d: inode %d in sock_diag, %d in /proc", port, ino, pr[ino])
				}
			}
		}
		if found != 1 {
			t.Errorf("port %d: %d sockets of this process in sock_diag %v", port, found, nl)
		}
	}
	// Membership: a process is its own member; a leader that is no
	// process contributes nothing.
	p := &proc{pid: 1}
	m := sandboxMembers(map[int]*proc{os.Getpid(): p, 1 << 30: {pid: 2}})
	if m[os.Getpid()] != p {
		t.Fatalf("%v", m)
	}
	s := scanMembers(map[int]*proc{os.Getpid(): p})
	if s[os.Getpid()] != p {
		t.Fatalf("%v", s)
	}
}
