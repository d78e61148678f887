package sandboxcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/style"
	"github.com/nimbus-sh/nimbus/pkg/terminal"
)

// AttachError maps a failure of `session attach ID` (h.ID) to its exit
// code and hint; other errors go through h.Error.
func AttachError(err error, h Hints) error {
	h.attached = true
	var te *terminal.Error
	if !errors.As(err, &te) {
		return h.Error(err)
	}
	switch {
	case te.Auth():
		return clierr.Wrap(err, exitcode.NoPerm, te.Code, "the server refused the token: "+te.Message, attachAuthHint(te.Code, h))
	}
	switch te.Code {
	case terminal.CodeBusy:
		return clierr.Wrap(err, exitcode.TempFail, te.Code, te.Message, h.onSandbox(func(arg string) string {
			return "close the other terminal (a browser tab on /s/" + h.ID + "/ or another nimbus session attach), or wait for it: nimbus session attach --wait " + arg
		}, nil))
	case terminal.CodeTakenOver:
		return clierr.Wrap(err, exitcode.Failure, te.Code, te.Message, h.onSandbox(func(arg string) string {
			return "the shell keeps running; nimbus session attach " + arg + " takes it back once the other client has gone (or --wait for it)"
		}, nil))
	case terminal.CodeUnavailable:
		// The cause (a refused connection, a DNS failure, the address)
		// is what tells an endpoint that is down from one mistyped; a
		// handshake timeout already says its bound.
		msg := te.Message
		if te.Err != nil && !errors.Is(te.Err, context.DeadlineExceeded) {
			msg = te.Error()
		}
		return clierr.Wrap(err, exitcode.Unavailable, te.Code, msg, "is the Worker (or nimbus dev) running and reachable at --endpoint?")
	case terminal.CodeClosedEarly:
		// As an exec stream that ends without its exit frame
		// (E_EXEC_STREAM_TRUNCATED): the end of the work was not seen.
		return clierr.Wrap(err, exitcode.Unavailable, te.Code, te.Message, h.onSandbox(func(arg string) string {
			return "the input's commands may not have run, or were stopped: check the sandbox (nimbus sandbox ps " + arg + ") before running them again"
		}, nil))
	case terminal.CodeHandshake:
		return clierr.Wrap(err, exitcode.Config, te.Code, te.Message, "check --endpoint: it must be the origin of a Nimbus Worker or of nimbus dev")
	case terminal.CodeProtocol:
		return clierr.Wrap(err, exitcode.Protocol, te.Code, te.Message, "the server does not speak the terminal protocol nimbus knows: upgrade nimbus or the Worker")
	case terminal.CodeInterrupted:
		return clierr.Wrap(err, exitcode.Interrupted, te.Code, "interrupted", "")
	case terminal.CodeInvalidArgument:
		return clierr.Usagef("%s", te.Message)
	}
	return clierr.Wrap(err, exitcode.Software, te.Code, te.Message, "")
}

func attachAuthHint(code string, h Hints) string {
	// --tenant is required: the one the command resolved, or a
	// placeholder, as the refused token is not read.
	mint := h.MintCommand("session:attach")
	switch code {
	case "E_SCOPE_MISSING":
		return "the terminal needs a token with the session:attach scope: " + mint + " (or let nimbus mint one: JWT_SECRET with --tenant)"
	case "E_SESSION_PIN_MISMATCH":
		return h.PinHint("session", "session:attach")
	case "E_TOKEN_EXPIRED":
		return "the token expired: " + mint + ", or let nimbus mint short-lived ones (JWT_SECRET with --tenant)"
	case "E_CROSS_SITE_REFUSED":
		return "send the token in the Authorization header (--token-file or NIMBUS_TOKEN)"
	}
	return "check that JWT_SECRET matches the server's, or mint a token with session:attach: " + mint
}

// AttachNotices renders the progress of `session attach` on stderr. In raw
// mode line ends must be "\r\n", and each notice starts on a line of its
// own, as the remote output may have left the cursor mid-line.
type AttachNotices struct {
	W      io.Writer
	Styles *style.Styles
	// Raw says the terminal is in raw mode.
	Raw bool
	// ID is the session, for the commands the notices suggest, which
	// are written as every hint on a sandbox is (onSession).
	ID string
	// Detach names the detach keys ("Enter ~ ."), "" when there are none.
	Detach string
	// Chatty adds the notices only a person at a terminal needs.
	Chatty  bool
	lastErr string
	busy    bool
	started bool // the remote output has begun
}

// onSession is a notice that names a command on the session: the
// builder of every hint on a sandbox renders it (Hints.onSandbox, as it
// does AttachError's), given the session as a command line writes it
// (ArgID), so that the notices and the hints write the id alike (quoted
// for a shell) and follow any rule the builder has for a session the
// server destroyed. The notices that name a command come while the
// session is attached, or once it was detached from, never after it
// was destroyed.
func (n *AttachNotices) onSession(live func(arg string) string) string {
	return Hints{ID: n.ID, attached: true}.onSandbox(live, nil)
}

func (n *AttachNotices) line(format string, args ...any) {
	// Errors and close reasons quote the server: no escape sequence
	// reaches the terminal.
	msg := "[nimbus] " + DisplayText(fmt.Sprintf(format, args...))
	if n.Raw {
		// Remote output may have left the cursor mid-line, except before
		// the first byte of it.
		lead := "\r\n"
		if !n.started {
			lead = ""
		}
		fmt.Fprint(n.W, lead+n.Styles.Muted(msg)+"\r\n")
		return
	}
	fmt.Fprintln(n.W, n.Styles.Muted(msg))
}

// Event renders one event.
func (n *AttachNotices) Event(e terminal.Event) {
	switch e.Kind {
	case terminal.EventConnected:
		if n.Chatty && n.Detach != "" {
			n.line("attached to %s; %s detaches", n.ID, n.Detach)
		}
		n.started = true
	case terminal.EventDisconnected:
		n.lastErr = ""
		n.line("connection lost (%s); reconnecting…", oneLine(e.Err))
	case terminal.EventRetrying:
		if msg := oneLine(e.Err); msg != n.lastErr {
			n.lastErr = msg
			n.line("%s; retrying in %s", msg, e.Delay.Round(100*time.Millisecond))
		}
	case terminal.EventReconnected:
		n.line("reconnected")
	case terminal.EventBusy:
		if !n.busy {
			n.busy = true
			n.line("another terminal (probably a browser tab) holds %s; waiting for it to detach…", n.ID)
		}
	case terminal.EventKeysDropped:
		hint := "Ctrl-C stops"
		if n.Detach != "" {
			hint = n.Detach + " detaches, " + hint
		}
		n.line("not connected: keys are not sent (%s)", hint)
	case terminal.EventProcessTerminal:
		why := ""
		if e.Err != nil {
			why = " (following it failed: " + oneLine(e.Err) + ")"
		}
		n.line("%q (pid %d) runs in its own process terminal%s; %s", e.Command, e.PID, why, n.onSession(func(arg string) string {
			return fmt.Sprintf("follow it with: nimbus sandbox attach %s %d, or in the browser (nimbus session url --session %s)", arg, e.PID, arg)
		}))
	case terminal.EventProcessAttached:
		n.line("switched to %q (pid %d) in its process terminal; its exit brings the shell back", e.Command, e.PID)
	case terminal.EventProcessDetached:
		switch {
		case e.Err != nil:
			n.line("process terminal of pid %d ended (%s); back to the shell", e.PID, oneLine(e.Err))
		case e.Code != nil:
			n.line("pid %d exited with code %d; back to the shell", e.PID, *e.Code)
		default:
			n.line("pid %d exited; back to the shell", e.PID)
		}
	}
}

// End renders how an attachment ended without an error; raw mode is over.
func (n *AttachNotices) End(res terminal.Result) {
	n.Raw = false
	switch res.Reason {
	case terminal.Detached:
		n.line("detached from %s; its shell keeps running. %s", n.ID, n.onSession(func(arg string) string { return "Reattach: nimbus session attach " + arg }))
	case terminal.Closed:
		switch res.CloseReason {
		case "session destroyed":
			n.line("session %s was destroyed", n.ID)
		case "terminal closed":
			n.line("the shell of %s exited", n.ID)
		default:
			reason := res.CloseReason
			if reason == "" {
				reason = "no reason given"
			}
			n.line("the server closed the terminal of %s (%s)", n.ID, reason)
		}
	}
}

func oneLine(err error) string {
	if err == nil {
		return "no error"
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}
