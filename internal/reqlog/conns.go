package reqlog

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Conns tracks a fake's connections that are between being accepted and
// the end of a request, so that a test can wait for the requests a client
// already sent to be recorded. A CLI run is a process of its own: when it
// exits early (on the first of several concurrent failures), the requests
// it sent before are still read and recorded by the fake after the exit,
// and a step that resets the log at once would count them as its own.
// Install ConnState as the server's http.Server.ConnState.
type Conns struct {
	mu   sync.Mutex
	cond sync.Cond
	busy map[net.Conn]bool
}

// ConnState is an http.Server.ConnState hook.
func (c *Conns) ConnState(conn net.Conn, st http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.busy == nil {
		c.busy = map[net.Conn]bool{}
		c.cond.L = &c.mu
	}
	switch st {
	case http.StateNew, http.StateActive:
		c.busy[conn] = true
	default:
		delete(c.busy, conn)
		c.cond.Broadcast()
	}
}

// WaitIdle waits until no connection is new or in a request, or until
// timeout (a request held by a fault stays in progress); it reports
// whether none was.
func (c *Conns) WaitIdle(timeout time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.busy == nil {
		return true
	}
	t := time.AfterFunc(timeout, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer t.Stop()
	deadline := time.Now().Add(timeout)
	for len(c.busy) > 0 && time.Now().Before(deadline) {
		c.cond.Wait()
	}
	return len(c.busy) == 0
}

// Busy returns how many connections are new or in a request.
func (c *Conns) Busy() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.busy)
}
