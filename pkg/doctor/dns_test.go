//go:build unix

package doctor_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/doctor"
)

// fakeDNS answers every query on a loopback UDP port with rcode (3 is
// NXDOMAIN, 2 SERVFAIL), in DNS's wire format, and returns an HTTP client
// whose lookups all go to it. Go's resolver still names the server of
// resolv.conf in its errors, as it does when that server answers.
func fakeDNS(t *testing.T, rcode byte) *http.Client {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := buf[:n]
			if len(q) < 12 {
				continue
			}
			// The question: labels up to the root's zero, then type and class.
			end := 12
			for end < len(q) && q[end] != 0 {
				end += int(q[end]) + 1
			}
			end += 5
			if end > len(q) {
				continue
			}
			resp := append([]byte{}, q[:end]...)
			resp[2] = 0x81 | q[2]&0x01 // QR, RD as asked
			resp[3] = 0x80 | rcode     // RA
			copy(resp[4:12], []byte{0, 1, 0, 0, 0, 0, 0, 0})
			_, _ = pc.WriteTo(resp, from)
		}
	}()
	addr := pc.LocalAddr().String()
	dialer := &net.Dialer{Resolver: &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}}
	return &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
}

// TestLookupFailuresNameNoResolver: a failed lookup is trimmed as every
// other network error is, to its cause and the name looked up; the local
// resolver's address ("lookup H on 10.0.0.53:53: …") is the machine's, not
// the problem's.
func TestLookupFailuresNameNoResolver(t *testing.T) {
	const host = "release.nimbus.invalid"
	for _, tc := range []struct {
		rcode byte
		want  string
	}{
		{3, "no such host " + host},
		{2, "lookup " + host + ": server misbehaving"},
	} {
		client := fakeDNS(t, tc.rcode)
		for _, c := range []struct {
			name string
			d    *doctor.Doctor
		}{
			{"version", &doctor.Doctor{Version: "1.4.0", ReleaseURL: "http://" + host + "/latest", HTTPClient: client}},
			{"endpoint", &doctor.Doctor{Endpoint: "http://" + host, Secret: secret, Tenant: "acme", HTTPClient: client}},
		} {
			r := c.d.Run(context.Background())
			got := find(t, r, c.name)
			if !strings.Contains(got.Detail, tc.want) || strings.Contains(got.Detail, " on ") || strings.Contains(got.Detail, ":53") {
				t.Errorf("rcode %d: %s: %q, want the cause %q without the resolver", tc.rcode, c.name, got.Detail, tc.want)
			}
		}
	}
}
