// Package localhost says whether a host names this machine: the one rule
// for plain http to the Cloudflare API, the hints that point at nimbus
// dev, and the forward's guard against DNS rebinding.
package localhost

import (
	"net"
	"strings"
)

// Is reports whether host, a name or an address with or without a port
// (and an IPv6 address's brackets), names this machine: localhost or a
// name under .localhost, which resolvers keep on the machine (RFC 6761),
// or a loopback address. Letter case and a final dot do not matter.
func Is(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}
