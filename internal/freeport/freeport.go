// Package freeport picks a loopback TCP port for a server a test starts by
// port number, often in another process (`nimbus dev --addr
// 127.0.0.1:PORT`), some time after the pick.
//
// The usual way, listening on port 0 and closing, hands out a port of the
// kernel's ephemeral range (Linux 32768-60999, macOS and Windows
// 49152-65535), the range every outgoing connection and every other
// test's port-0 listener also draws from: in a busy test run one of them
// can take the port before the server binds it, and the script then talks
// to a stranger (a 404 where nimbus dev was expected). Ports here are
// drawn below those ranges, which nothing the kernel assigns reaches, and
// never twice in one process.
package freeport

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
)

// lo and hi bound the ports Pick draws from: below every ephemeral range
// and above the ports services usually take.
const lo, hi = 20000, 32000

var (
	mu    sync.Mutex
	given = map[int]bool{}
)

// Pick returns a port on 127.0.0.1 that nothing listened on when it was
// picked and that Pick has not returned before in this process.
func Pick() (int, error) {
	mu.Lock()
	defer mu.Unlock()
	for range 500 {
		p := lo + rand.IntN(hi-lo)
		if given[p] {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		_ = ln.Close()
		given[p] = true
		return p, nil
	}
	return 0, errors.New("freeport: no free port found below the ephemeral range")
}
