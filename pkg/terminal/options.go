package terminal

import (
	"io"
	"net/http"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// Defaults of Options.
const (
	// DefaultKeepalive is how often "ping" is sent: well within the 120 s
	// in which a silent owner loses the session to another client.
	DefaultKeepalive = 30 * time.Second
	// DefaultProbeAfter is the inbound silence after which the liveness
	// probe is sent (spec §12).
	DefaultProbeAfter = 15 * time.Second
	// DefaultDeadAfter is how long the probe's answer may take before the
	// socket is declared dead and a reconnect starts (spec §12).
	DefaultDeadAfter = 10 * time.Second
	// DefaultQuietAfterEOF is how long output may pause, once piped input
	// has ended, before Attach returns.
	DefaultQuietAfterEOF = time.Second
	// DefaultHandshakeTimeout bounds one connection attempt.
	DefaultHandshakeTimeout = 30 * time.Second
	// DefaultRetryDelay is the first wait between attempts; it grows by
	// half each time up to ten times itself (the browser's 1 s → 10 s).
	DefaultRetryDelay = time.Second
	// ReadLimit bounds one message from the server: a scrollback replay
	// is up to 1 MiB of terminal bytes, up to six times that in JSON.
	ReadLimit = 64 << 20
)

// Options configure Attach.
type Options struct {
	// Endpoint is the Worker's (or nimbus dev's) origin, http or https.
	Endpoint string
	// SessionID is the session (sandbox) id.
	SessionID string
	// Tokens gives the Bearer token of each connection attempt, for
	// SessionID; nil sends none (legacy deployments).
	Tokens sandboxclient.TokenSource
	// HTTPClient carries the handshakes; nil means http.DefaultClient. It
	// is copied: redirects are refused and its Timeout is replaced by
	// HandshakeTimeout, which bounds only the handshake.
	HTTPClient *http.Client
	// UserAgent is sent when set.
	UserAgent string

	// In is the local input, forwarded to the remote shell.
	In io.Reader
	// Out receives the remote output unchanged, escape sequences included.
	Out io.Writer
	// Terminal says In and Out are a terminal the caller put in raw mode:
	// the detach keys and window sizes apply; keys typed before the first
	// connection opens are sent once it does, and keys typed while
	// reconnecting are dropped (Ctrl-C then stops). Otherwise input is a
	// stream that is forwarded whole, paused while disconnected, and
	// whose end ends the attachment once the server has confirmed
	// receiving it and output goes quiet.
	Terminal bool
	// Size returns the local window size; nil, or ok false, sends none.
	Size func() (cols, rows int, ok bool)
	// Resized signals that the window may have changed size (SIGWINCH, a
	// poll); sizes are sent when they changed, at most every 50 ms.
	Resized <-chan struct{}
	// DetachKeys detach when typed (Terminal only); nil disables them.
	DetachKeys *DetachKeys

	// Wait is how long a 409 (another terminal holds the session) is
	// retried before Attach fails with CodeBusy; 0 fails at once.
	Wait time.Duration
	// Reconnect is how long reconnecting is tried after the connection
	// dropped; 0 never reconnects.
	Reconnect time.Duration
	// FollowProcesses switches the input and output to a process's own
	// terminal while a full-screen program the shell handed off runs
	// (spec §9, Workers only); otherwise an EventProcessTerminal tells the
	// caller about it.
	FollowProcesses bool

	// Keepalive, ProbeAfter, DeadAfter, QuietAfterEOF, HandshakeTimeout
	// and RetryDelay override the defaults of the same names when set.
	Keepalive, ProbeAfter, DeadAfter, QuietAfterEOF, HandshakeTimeout, RetryDelay time.Duration

	// Notify receives Events as they happen, from Attach's goroutine; nil
	// drops them. It must not block.
	Notify func(Event)
}

// EndReason says how an attachment ended without an error.
type EndReason int

const (
	// Detached: the user typed the detach keys, or the local terminal
	// went away; the remote shell keeps running.
	Detached EndReason = iota + 1
	// Closed: the server ended the session terminal with 1000 (the
	// session was destroyed, or its shell exited); see Result.CloseReason.
	Closed
	// InputEnded: piped input ended, the server confirmed receiving it,
	// and output went quiet.
	InputEnded
)

// Result is how an attachment ended.
type Result struct {
	// Reason says why Attach returned: Detached, Closed or InputEnded.
	Reason EndReason
	// CloseReason is the server's reason with Closed ("session
	// destroyed", "terminal closed").
	CloseReason string
}

// EventKind names an Event.
type EventKind int

const (
	// EventConnected: the first connection is open.
	EventConnected EventKind = iota + 1
	// EventDisconnected: the connection dropped (Err); the next attempt
	// is in Delay.
	EventDisconnected
	// EventRetrying: an attempt failed (Err); the next is in Delay.
	EventRetrying
	// EventReconnected: a dropped connection is open again.
	EventReconnected
	// EventBusy: another terminal holds the session (409); the next
	// attempt is in Delay.
	EventBusy
	// EventKeysDropped: keys were typed while not connected; they are
	// not sent. Once per disconnection.
	EventKeysDropped
	// EventProcessTerminal: a full-screen program (PID, Command) runs in
	// its own process terminal and is not followed.
	EventProcessTerminal
	// EventProcessAttached: input and output now go to process PID.
	EventProcessAttached
	// EventProcessDetached: back on the shell; the process exited with
	// Code (nil when unknown) or its terminal failed (Err).
	EventProcessDetached
)

// Event reports progress to the caller.
type Event struct {
	// Kind says what happened; the comment of each EventKind names the
	// other fields it sets.
	Kind EventKind
	// Err is why a connection attempt failed, the connection dropped, or
	// a process terminal could not be followed or failed; nil otherwise.
	Err error
	// Delay is how long until the next connection attempt.
	Delay time.Duration
	// PID is the process of a process-terminal event.
	PID int64
	// Command is the program's command line in the process-terminal
	// events.
	Command string
	// Code is the process's exit code in EventProcessDetached; nil when
	// unknown or when its terminal failed.
	Code *int
}

func (o *Options) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&o.Keepalive, DefaultKeepalive)
	set(&o.ProbeAfter, DefaultProbeAfter)
	set(&o.DeadAfter, DefaultDeadAfter)
	set(&o.QuietAfterEOF, DefaultQuietAfterEOF)
	set(&o.HandshakeTimeout, DefaultHandshakeTimeout)
	set(&o.RetryDelay, DefaultRetryDelay)
}
