package localdev

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// SetProcsQuiet makes the servers t starts use d for ProcsQuiet, until t
// ends.
func SetProcsQuiet(t testing.TB, d time.Duration) {
	old := procsQuiet
	procsQuiet = d
	t.Cleanup(func() { procsQuiet = old })
}

// SetLocalClients makes the servers t starts take only the peers local
// says are this machine's for its own (other loopback addresses then play
// clients from other machines), until t ends.
func SetLocalClients(t testing.TB, local func(netip.Addr) bool) {
	old := isLocalClient
	isLocalClient = local
	t.Cleanup(func() { isLocalClient = old })
}

// SetEvictGrace makes the servers t starts close connections for room
// only once quiet for d, until t ends.
func SetEvictGrace(t testing.TB, d time.Duration) {
	old := evictGrace
	evictGrace = d
	t.Cleanup(func() { evictGrace = old })
}

// SetLookupIP makes listen addresses' host names resolve with f, until t
// ends.
func SetLookupIP(t testing.TB, f func(host string) ([]net.IP, error)) {
	old := lookupIP
	lookupIP = f
	t.Cleanup(func() { lookupIP = old })
}
