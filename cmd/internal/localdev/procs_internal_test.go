package localdev

import (
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
)

// lookedAt is a connection that counts how often peerClosed looks into it
// (each look is a system call on a real one).
type lookedAt struct {
	net.Conn
	looks *atomic.Int64
}

func (c lookedAt) SyscallConn() (syscall.RawConn, error) {
	c.looks.Add(1)
	return nil, errors.New("not a socket")
}

// TestGovernorDoesNotLookWhileBusy: once two clients have widened the
// server, requests from clients taking turns (at most one in flight, a
// different connection each time) do not look into the last connection
// again and again: the server stays wide without it, and a look every
// half of ProcsQuiet keeps it so. Before, every such request made a
// system call (7% of a `ready`'s CPU at 16 clients).
func TestGovernorDoesNotLookWhileBusy(t *testing.T) {
	var sets []int
	g := newProcGovernor(func(n int) { sets = append(sets, n) })
	var looks atomic.Int64
	a := &slotConn{Conn: lookedAt{looks: &looks}}
	b := &slotConn{Conn: lookedAt{looks: &looks}}
	g.begin(a)
	g.begin(b) // two in flight: wide
	g.end()
	g.end()
	if len(sets) != 2 || sets[1] != 0 {
		t.Fatalf("Procs calls %v, want [1 0]", sets)
	}
	const turns = 2000
	for range turns {
		g.begin(a)
		g.end()
		g.begin(b)
		g.end()
	}
	// A loop of atomics takes far less than ProcsQuiet/2; a stall of
	// the machine in the middle may add a look or two, not thousands.
	if n := looks.Load(); n > 10 {
		t.Errorf("%d looks into the last connection over %d requests from clients taking turns, want none", n, 2*turns)
	}
	if len(sets) != 2 {
		t.Errorf("Procs calls %v while clients took turns, want [1 0]: the server narrowed", sets)
	}
}
