package localsandbox

import (
	"context"
	"errors"
	"time"

	"github.com/coder/websocket"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

// Destroy is a barrier. Every operation on a sandbox holds its gate while
// it runs; a destroy closes the gate to newcomers, cancels the operations
// inside (a command is killed and reported as such), waits for them to
// leave, and only then removes the sandbox. Requests that arrive meanwhile
// wait for the destroy to end and run on the fresh sandbox. So a request
// either completes before the destroy or runs after it: none answers ok
// for work the destroy then throws away, and no new sandbox is created in
// a directory being removed.

// errSandboxDestroyed is the cancellation cause of operations that a
// destroy interrupted.
var errSandboxDestroyed = errors.New("the sandbox was destroyed while it ran")

// Bounds of a destroy: how long operations get to finish after their
// cancellation before the sandbox's processes are killed and its root is
// closed under them, and then how long those get to fail.
const (
	destroyGrace = 2 * time.Second
	destroyDrain = 30 * time.Second
)

// gate orders the operations on one Durable Object name with its destroy.
type gate struct {
	inflight   int
	destroying chan struct{} // closed when a destroy ends; nil when none runs
	drained    chan struct{} // closed when inflight drops to 0 during a destroy
	ctx        context.Context
	cancel     context.CancelCauseFunc
}

// gateLocked returns the gate of do; s.mu is held.
func (s *Server) gateLocked(do string) *gate {
	g := s.gates[do]
	if g == nil {
		g = &gate{}
		g.ctx, g.cancel = context.WithCancelCause(context.Background())
		s.gates[do] = g
	}
	return g
}

// dropIdleLocked forgets a gate nobody uses; s.mu is held.
func (s *Server) dropIdleLocked(do string, g *gate) {
	if g.inflight == 0 && g.destroying == nil && s.gates[do] == g {
		g.cancel(nil)
		delete(s.gates, do)
	}
}

// enter waits for any destroy of do to end, then returns its live sandbox
// (opened on first use), a context that a destroy cancels with
// errSandboxDestroyed, and the function that leaves the gate.
func (s *Server) enter(ctx context.Context, do, id string) (*sandbox, context.Context, func(), *sandboxserver.Error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, nil, nil, errShuttingDown()
		}
		g := s.gateLocked(do)
		if ch := g.destroying; ch != nil {
			s.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, nil, nil, sandboxserver.RPCError("request cancelled while the sandbox was being destroyed")
			}
		}
		sb := s.loadLocked(do, id)
		g.inflight++
		gctx := g.ctx
		s.mu.Unlock()
		opCtx, cancel := context.WithCancelCause(ctx)
		stop := context.AfterFunc(gctx, func() { cancel(context.Cause(gctx)) })
		rootErr := sb.acquireRoot()
		leave := func() {
			if rootErr == nil {
				sb.releaseRoot()
			}
			stop()
			cancel(nil)
			s.mu.Lock()
			g.inflight--
			if g.inflight == 0 && g.drained != nil {
				close(g.drained)
				g.drained = nil
			}
			s.dropIdleLocked(do, g)
			s.mu.Unlock()
		}
		if rootErr != nil {
			leave()
			if errors.Is(rootErr, errBackendClosed) {
				// Destroyed between the gate and here: the request waits
				// for the destroy to end, as one that came a moment later.
				continue
			}
			return nil, nil, nil, storageError(rootErr)
		}
		return sb, opCtx, leave, nil
	}
}

// storageError answers an operation whose sandbox directory cannot be
// opened; running out of descriptors is the server being overloaded.
func storageError(err error) *sandboxserver.Error {
	if e := overloaded(err); e != nil {
		return e
	}
	return sandboxserver.RPCError("cannot open sandbox storage: " + err.Error())
}

// destroy kills the sandbox's processes and removes its directory; a
// sandbox that is not loaded is still removed from disk. Concurrent
// destroys of one sandbox run one after the other.
func (s *Server) destroy(do, reason string) (map[string]any, *sandboxserver.Error) {
	s.mu.Lock()
	g := s.gateLocked(do)
	for g.destroying != nil {
		ch := g.destroying
		s.mu.Unlock()
		<-ch
		s.mu.Lock()
		g = s.gateLocked(do)
	}
	g.destroying = make(chan struct{})
	sb := s.sandboxes[do]
	delete(s.sandboxes, do)
	var drained chan struct{}
	if g.inflight > 0 {
		drained = make(chan struct{})
		g.drained = drained
	}
	s.mu.Unlock()
	live := 0
	if sb != nil {
		live = sb.live()
	}
	s.mu.Lock()
	g.cancel(errSandboxDestroyed)
	s.mu.Unlock()

	wait := func(d time.Duration) {
		if drained == nil {
			return
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-drained:
		case <-t.C:
		}
	}
	// Cancelled commands die at once; file operations finish.
	wait(destroyGrace)
	killed := 0
	if sb != nil {
		// Whatever still runs (an operation stuck on a process) is freed
		// by killing the processes, or fails on the closed root.
		// The terminal's socket hears why it closes, as from a Worker.
		waitAll([]<-chan struct{}{sb.closeTerminal(websocket.StatusNormalClosure, sessionDestroyed)}, 2*time.Second)
		killed = max(live, sb.shutdown())
	}
	// The sandbox's idle inits hold its directories mounted.
	s.inits.Discard(s.SandboxDir(do))
	wait(destroyDrain)
	err := removeTree(s.SandboxDir(do))
	if err == nil {
		// Exposures, names and reservations go with the sandbox, before
		// the gate reopens.
		err = s.removeApps(sb, do)
	}

	s.mu.Lock()
	close(g.destroying)
	g.destroying = nil
	g.ctx, g.cancel = context.WithCancelCause(context.Background())
	s.dropIdleLocked(do, g)
	s.mu.Unlock()
	if err != nil {
		return nil, sandboxserver.RPCError("EBUSY: cannot remove sandbox storage: " + err.Error())
	}
	return sandboxserver.DestroyResult(killed, s.opts.Now(), reason), nil
}

func errShuttingDown() *sandboxserver.Error {
	return sandboxserver.NewError(503, sandboxserver.CodeOverloaded, "local sandbox backend is shutting down")
}

// live counts the commands and processes running in the sandbox: what a
// destroy that starts now kills.
func (sb *sandbox) live() int {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.liveLocked()
}
