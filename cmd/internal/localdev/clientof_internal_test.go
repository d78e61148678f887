package localdev

import (
	"net"
	"net/netip"
	"testing"
)

// clientOf groups clients as an attacker holds addresses: one IPv4
// address, or a whole IPv6 /64 (a host picks any address in its /64 at
// will); an IPv4-mapped IPv6 address (a dual-stack listener's IPv4
// client) is its IPv4 address.
func TestClientOfGroupsByIPv4AddressAndIPv6Slash64(t *testing.T) {
	client := func(s string) netip.Prefix {
		t.Helper()
		ap := netip.MustParseAddrPort(s)
		p, ok := clientOf(net.TCPAddrFromAddrPort(ap))
		if !ok {
			t.Fatalf("%s taken for this machine's", s)
		}
		return p
	}
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"[2001:db8:1:2::1]:1000", "[2001:db8:1:2:ffff:ffff:ffff:fffe]:2000", true},
		{"[2001:db8:1:2::1]:1000", "[2001:db8:1:3::1]:1000", false},
		{"[fe80::1%eth0]:1000", "[fe80::2%eth0]:1000", true},
		{"192.0.2.1:1000", "192.0.2.1:2000", true},
		{"192.0.2.1:1000", "192.0.2.2:1000", false},
		{"[::ffff:192.0.2.1]:1000", "192.0.2.1:2000", true},
		{"[::ffff:192.0.2.1]:1000", "[::ffff:192.0.2.2]:1000", false},
		{"[::ffff:192.0.2.1]:1000", "[::ffff:0:1]:1000", false},
	} {
		if got := client(c.a) == client(c.b); got != c.same {
			t.Errorf("%s and %s the same client: %v (%v, %v), want %v", c.a, c.b, got, client(c.a), client(c.b), c.same)
		}
	}
	if p := client("[::ffff:192.0.2.1]:1"); p != netip.MustParsePrefix("192.0.2.1/32") {
		t.Errorf("an IPv4-mapped client is %v, want 192.0.2.1/32", p)
	}
	if p := client("[2001:db8:1:2:3:4:5:6]:1"); p != netip.MustParsePrefix("2001:db8:1:2::/64") {
		t.Errorf("an IPv6 client is %v, want 2001:db8:1:2::/64", p)
	}
	for _, local := range []string{"127.0.0.1:1", "[::1]:1", "[::ffff:127.0.0.1]:1"} {
		if _, ok := clientOf(net.TCPAddrFromAddrPort(netip.MustParseAddrPort(local))); ok {
			t.Errorf("%s is this machine's, not a remote client", local)
		}
	}
	if _, ok := clientOf(&net.UnixAddr{Name: "/tmp/s", Net: "unix"}); ok {
		t.Error("a Unix socket peer is this machine's")
	}
}
