//go:build !unix

package localdev

import "net"

// peerClosed reports false: this system gives no way to look into a
// connection without reading it, so the governor counts a connection as
// gone only once the server has closed it.
func peerClosed(net.Conn) bool { return false }
