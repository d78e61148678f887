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
	// ctx is cancelled (cause errSandboxDestroyed) when a destroy starts.
	// It is made when an operation first needs it (see held.context), not
	// for every request: most operations (file operations, ready) never
	// wait on anything a destroy must interrupt.
	ctx    context.Context
	cancel context.CancelCauseFunc
	// destroys counts the destroys that started (see held.destroyed).
	destroys int
}

// gateLocked returns the gate of do; s.mu is held.
func (s *Server) gateLocked(do string) *gate {
	g := s.gates[do]
	if g == nil {
		g = &gate{}
		s.gates[do] = g
	}
	return g
}

// ctxLocked returns the gate's context, making it if needed; s.mu is held.
func (g *gate) ctxLocked() context.Context {
	if g.ctx == nil {
		g.ctx, g.cancel = context.WithCancelCause(context.Background())
	}
	return g.ctx
}

// dropIdleLocked forgets a gate nobody uses; s.mu is held.
func (s *Server) dropIdleLocked(do string, g *gate) {
	if g.inflight == 0 && g.destroying == nil && s.gates[do] == g {
		if g.cancel != nil {
			g.cancel(nil)
		}
		delete(s.gates, do)
	}
}

// held is an operation inside the gate of its sandbox (see enter); leave
// ends it.
type held struct {
	s      *Server
	sb     *sandbox
	g      *gate
	do     string
	rootOK bool
	epoch  int // g.destroys when it entered
}

// enter waits for any destroy of do to end, then returns its live sandbox
// (opened on first use) inside its gate, with its root acquired.
func (s *Server) enter(ctx context.Context, do, id string) (held, *sandboxserver.Error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return held{}, errShuttingDown()
		}
		g := s.gateLocked(do)
		if ch := g.destroying; ch != nil {
			s.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return held{}, sandboxserver.RPCError("request cancelled while the sandbox was being destroyed")
			}
		}
		sb := s.loadLocked(do, id)
		g.inflight++
		epoch := g.destroys
		s.mu.Unlock()
		rootErr := sb.acquireRoot()
		h := held{s: s, sb: sb, g: g, do: do, rootOK: rootErr == nil, epoch: epoch}
		if rootErr != nil {
			h.leave()
			if errors.Is(rootErr, errBackendClosed) {
				// Destroyed between the gate and here: the request waits
				// for the destroy to end, as one that came a moment later.
				continue
			}
			if overloaded(rootErr) == nil {
				s.logHost("cannot open sandbox storage", id, rootErr)
			}
			return held{}, storageError(rootErr)
		}
		return h, nil
	}
}

// leave ends the operation: the gate may let a destroy through.
func (h *held) leave() {
	if h.rootOK {
		h.sb.releaseRoot()
	}
	s := h.s
	s.mu.Lock()
	h.g.inflight--
	if h.g.inflight == 0 && h.g.drained != nil {
		close(h.g.drained)
		h.g.drained = nil
	}
	s.dropIdleLocked(h.do, h.g)
	s.mu.Unlock()
}

// context returns parent, also cancelled with errSandboxDestroyed when a
// destroy starts, for an operation that waits on something (a command, a
// runtime probe); stop releases it.
func (h *held) context(parent context.Context) (ctx context.Context, stop func()) {
	h.s.mu.Lock()
	gctx := h.g.ctxLocked()
	h.s.mu.Unlock()
	opCtx, cancel := context.WithCancelCause(parent)
	unhook := context.AfterFunc(gctx, func() { cancel(context.Cause(gctx)) })
	return opCtx, func() {
		unhook()
		cancel(nil)
	}
}

// destroyed reports whether a destroy of the sandbox started while the
// operation was inside the gate.
func (h *held) destroyed() bool {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.g.destroys != h.epoch
}

// storageError answers an operation whose sandbox directory cannot be
// opened; running out of descriptors is the server being overloaded.
func storageError(err error) *sandboxserver.Error {
	if e := overloaded(err); e != nil {
		return e
	}
	return sandboxserver.RPCError("cannot open sandbox storage: " + hostErrText(err))
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
	g.destroys++
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
	// Made if no operation made it yet, so that one that asks for it
	// from now on gets it cancelled.
	g.ctxLocked()
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
	g.ctx, g.cancel = nil, nil
	s.dropIdleLocked(do, g)
	s.mu.Unlock()
	if err != nil {
		s.logHost("cannot remove sandbox storage", do, err)
		return nil, sandboxserver.RPCError("EBUSY: cannot remove sandbox storage: " + hostErrText(err))
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
