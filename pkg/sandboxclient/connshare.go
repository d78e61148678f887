package sandboxclient

import (
	"errors"
	"io"
	"net"
	"sync"

	"github.com/nimbus-sh/nimbus/internal/headerbound"
)

// net/http's HTTP/2 client ends every stream of a connection with the
// connection's error when one answer on it breaks the protocol (headers
// over the bound in many frames, a field over it): each request on it
// gets "connection error: PROTOCOL_ERROR", and none learns whose answer
// it was. The requests of this process (of every Client: callers share
// transports) are counted per connection here, so that a request can
// tell its own broken answer (it was alone on the connection when it
// broke) from another's (it was not: its own answer was never read, and
// an op that is not safe may or may not have run). Requests sent through
// the same transport by code other than this package are not counted;
// for them the blame stays with the request, as net/http gives it.
var onConns = struct {
	sync.Mutex
	m map[net.Conn]*connState
}{m: map[net.Conn]*connState{}}

type connState struct {
	active  int // requests on the connection whose answers are not done
	atBreak int // active when the connection was first seen broken; 0 before
}

// connUse is one attempt's place on a connection, from GotConn until its
// answer is done (read to the end, closed, or failed).
type connUse struct {
	conn net.Conn // guarded by onConns
}

// join puts the attempt on c (leaving the connection it was on, when
// net/http moved it to another).
func (u *connUse) join(c net.Conn) {
	if c == nil {
		return
	}
	onConns.Lock()
	defer onConns.Unlock()
	u.leaveLocked()
	st := onConns.m[c]
	if st == nil {
		st = &connState{}
		onConns.m[c] = st
	}
	st.active++
	u.conn = c
}

// leave takes the attempt off its connection; later calls do nothing.
func (u *connUse) leave() {
	onConns.Lock()
	defer onConns.Unlock()
	u.leaveLocked()
}

func (u *connUse) leaveLocked() {
	if u.conn == nil {
		return
	}
	if st := onConns.m[u.conn]; st != nil {
		if st.active--; st.active <= 0 {
			delete(onConns.m, u.conn)
		}
	}
	u.conn = nil
}

// saw notes err, which ended the attempt's exchange or answer, before the
// attempt leaves: when it is the connection's HTTP/2 break, the first
// request to see it records how many were on the connection (all of them
// get the error at once, so none has left for it yet). It returns that
// number, or 0 when err is not the break or the connection is not known.
func (u *connUse) saw(err error) int {
	onConns.Lock()
	defer onConns.Unlock()
	if u.conn == nil || err == nil || !headerbound.BrokenHTTP2(err) {
		return 0
	}
	st := onConns.m[u.conn]
	if st.atBreak == 0 {
		st.atBreak = st.active
	}
	return st.atBreak
}

// connBody keeps an answer's attempt on its connection until the body is
// done, and notes a break of the connection seen while reading it.
type connBody struct {
	io.ReadCloser
	use *connUse
}

func (b *connBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case errors.Is(err, io.EOF):
		b.use.leave()
	case err != nil:
		b.use.saw(err)
	}
	return n, err
}

func (b *connBody) Close() error {
	err := b.ReadCloser.Close()
	b.use.leave()
	return err
}
