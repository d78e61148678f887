package freeport

import (
	"net"
	"strconv"
	"testing"
)

// TestPickIsFreeDistinctAndOutsideTheEphemeralRange: every port picked is
// below the kernels' ephemeral ranges, never handed out twice, and free to
// listen on.
func TestPickIsFreeDistinctAndOutsideTheEphemeralRange(t *testing.T) {
	seen := map[int]bool{}
	for range 200 {
		p, err := Pick()
		if err != nil {
			t.Fatal(err)
		}
		if p < lo || p >= hi || p >= 32768 {
			t.Fatalf("port %d outside [%d, %d)", p, lo, hi)
		}
		if seen[p] {
			t.Fatalf("port %d picked twice", p)
		}
		seen[p] = true
	}
	p, err := Pick()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		t.Fatalf("picked port %d is not free: %v", p, err)
	}
	_ = ln.Close()
}

// TestPickSkipsPortsInUse: a port something listens on is never picked.
func TestPickSkipsPortsInUse(t *testing.T) {
	var held []net.Listener
	t.Cleanup(func() {
		for _, ln := range held {
			_ = ln.Close()
		}
	})
	busy := map[int]bool{}
	for p := lo; p < lo+2000; p++ {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		held = append(held, ln)
		busy[p] = true
	}
	for range 300 {
		p, err := Pick()
		if err != nil {
			t.Fatal(err)
		}
		if busy[p] {
			t.Fatalf("picked port %d, which is in use", p)
		}
	}
}
