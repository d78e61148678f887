package terminal

import "time"

// liveness is a socket's probe state, kept alike for the session socket
// and the followed process terminal: when the server was last heard from,
// and when a probe still unanswered went out (zero when none is).
type liveness struct {
	lastIn, probeAt time.Time
}

// Probe states, as due reports them.
const (
	probeNone = iota // nothing to do yet
	probeSend        // silent for probeAfter, no probe out: send one
	probeDead        // the probe went unanswered for deadAfter
)

func newLiveness() liveness { return liveness{lastIn: time.Now()} }

// heard records a message from the server: any message proves the socket
// alive and answers the probe.
func (l *liveness) heard() { l.lastIn, l.probeAt = time.Now(), time.Time{} }

// probed records that a probe went out.
func (l *liveness) probed() { l.probeAt = time.Now() }

// silence is how long the server has said nothing.
func (l *liveness) silence() time.Duration { return time.Since(l.lastIn) }

// due says what the probe needs now.
func (l *liveness) due(probeAfter, deadAfter time.Duration) int {
	switch {
	case l.probeAt.IsZero() && time.Since(l.lastIn) >= probeAfter:
		return probeSend
	case !l.probeAt.IsZero() && time.Since(l.probeAt) >= deadAfter:
		return probeDead
	}
	return probeNone
}
