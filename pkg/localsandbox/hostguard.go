package localsandbox

import (
	"net"
	"net/http"
	"strings"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

// CodeHostNotAllowed is the 403 of a request whose Host header names
// something other than this server.
const CodeHostNotAllowed = "E_HOST_NOT_ALLOWED"

// HostPolicy says which Host headers a listening server answers, against
// DNS rebinding: a page on evil.example can make its own name resolve to
// 127.0.0.1 and then talk to the server as same-origin, but its requests
// still carry Host: evil.example. Allowed are localhost and *.localhost
// (browsers resolve them to loopback themselves), loopback addresses, the
// address the server listens on (any address when it listens on all of
// them: an IP literal is never a rebinding), and the extra names given.
// Ports are not compared, so that a tunnel or a port forward keeps
// working: rebinding is about names.
type HostPolicy struct {
	listen net.IP
	any    bool
	names  map[string]bool
}

// NewHostPolicy returns the policy of a server listening on addr (its
// net.Listener's Addr) that also answers to names.
func NewHostPolicy(addr net.Addr, names []string) *HostPolicy {
	p := &HostPolicy{names: map[string]bool{}}
	if ta, ok := addr.(*net.TCPAddr); ok {
		p.listen = ta.IP
		p.any = ta.IP == nil || ta.IP.IsUnspecified()
	}
	for _, n := range names {
		p.names[normalizeHost(n)] = true
	}
	return p
}

func normalizeHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
}

// Allow reports whether a request with this Host header is for this
// server.
func (p *HostPolicy) Allow(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	host = normalizeHost(host)
	if host == "" {
		return false
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || p.names[host] {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	return ip.IsLoopback() || p.any || ip.Equal(p.listen)
}

// refuseHost answers a request for another host.
func refuseHost(w http.ResponseWriter, r *http.Request) {
	sandboxserver.WriteFail(w, sandboxserver.NewError(http.StatusForbidden, CodeHostNotAllowed,
		"Host "+quoteHost(r.Host)+" is not allowed: this server answers to localhost, loopback addresses, its own address and the names it was given (nimbus dev --allow-host NAME); this refusal protects against DNS rebinding"))
}

func quoteHost(h string) string {
	if len(h) > 100 {
		h = h[:100]
	}
	return `"` + strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return '?'
		}
		return r
	}, h) + `"`
}
